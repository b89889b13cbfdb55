"""C, C++ and Java static checks: source scans, and ``nm`` listings captured in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.grading.outcome import StaticFinding
from assay.grading.spec import StaticSpec
from assay.grading.static import check_sources
from assay.grading.static.clike import scan_c, scan_java, strip_code
from assay.grading.static.findings import Context, symbol_findings
from assay.grading.static.rules import Language, Use, UseKind, matches
from assay.grading.static.symbols import (
    ObjectSymbols,
    WorkspaceFile,
    _split,
    compiled_files,
    is_runtime_internal,
    normalise_symbol,
    parse_nm,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "static"


def nm(name: str) -> set[str]:
    names, complete = parse_nm((FIXTURES / name).read_text())
    assert complete
    return names


def places(found: list[StaticFinding]) -> list[tuple[str, str | None, int | None, int | None]]:
    return [(f.name, f.file, f.line, f.column) for f in found]


# -- source scan -------------------------------------------------------------------
def test_strip_code_blanks_comments_and_literals_and_keeps_offsets() -> None:
    text = 'a(); // system()\n/* exec(\n */ s = "system(\\"x\\")"; c = \'(\';\n'
    stripped = strip_code(text, Language.C)
    assert len(stripped) == len(text)
    assert stripped.count("\n") == text.count("\n")
    assert "system" not in stripped
    assert "exec" not in stripped
    assert stripped.startswith("a();")


def test_strip_code_cpp_raw_strings_and_digit_separators() -> None:
    text = 'auto r = R"x(system("rm"))x"; int n = 1\'000; f(n);\n'
    stripped = strip_code(text, Language.CPP)
    assert "system" not in stripped
    assert "f(n);" in stripped


def test_strip_code_java_text_blocks() -> None:
    text = 'String s = """\n  Runtime.getRuntime().exec("x")\n""";\nrun();\n'
    stripped = strip_code(text, Language.JAVA)
    assert "exec" not in stripped
    assert "run();" in stripped


C_SOURCE = b"""#include <stdlib.h>
#include <string.h>
#define SHELL(c) system(c)
int system_like(int x);
static int helper(int x)
{
    return x + 1;
}
int main(void) {
    char buf[8];
    /* system("no") */
    strcpy(buf, "system(1)");
    SHELL("ls");
    struct { int (*system)(int); } o;
    o.system(helper(1));
    return system("true");
}
"""


def test_c_scan_finds_calls_in_bodies_and_macros_with_places() -> None:
    scan = scan_c(C_SOURCE, "main.c", Language.C)
    calls = [(u.name, u.line, u.column) for u in scan.uses if u.kind is UseKind.CALL]
    assert calls == [
        ("system", 3, 18),
        ("strcpy", 12, 5),
        ("SHELL", 13, 5),
        ("helper", 15, 14),
        ("system", 16, 12),
    ]
    methods = [(u.name, u.line) for u in scan.uses if u.kind is UseKind.METHOD]
    assert methods == [(".system", 15)]
    assert scan.definitions == {"helper", "main", "SHELL"}  # not the prototype system_like


def test_c_blacklist_from_the_source() -> None:
    found = check_sources(StaticSpec(blacklist=("system",)), "c", {"src/main.c": C_SOURCE})
    assert places(found) == [("system", "src/main.c", 3, 18), ("system", "src/main.c", 16, 12)]
    assert found[1].message == "src/main.c, line 16: `system` is not allowed in this assignment"


def test_the_students_own_function_of_a_forbidden_name_is_allowed() -> None:
    files = {
        "mystr.c": b"unsigned long strlen(const char *s) { unsigned long n = 0; "
        b"while (s[n]) n++; return n; }\n",
        "main.c": b'unsigned long strlen(const char *);\nint main(void) { return strlen("ab"); }\n',
    }
    assert check_sources(StaticSpec(blacklist=("strlen",)), "c", files) == []


def test_cpp_qualified_names() -> None:
    source = b"""#include <cstdlib>
#include <algorithm>
struct Shell { int system(const char *) const { return 0; } };
int main() {
    int v[2] = {2, 1};
    std::sort(v, v + 2);
    Shell s;
    s.system("x");
    return ::system("true") + std::system("x");
}
"""
    found = check_sources(StaticSpec(blacklist=("system", "std::sort")), "cpp", {"m.cpp": source})
    assert places(found) == [("std::sort", "m.cpp", 6, 10), ("system", "m.cpp", 9, 14)]


def test_c_whitelist_in_the_source_only_checks_names_a_compiler_may_add() -> None:
    source = (
        b"#include <stdio.h>\n#include <string.h>\nint main(void) {\n  char b[4];\n"
        b'  memcpy(b, "ab", 3);\n  puts(b);\n  printf("%s", b);\n  return 0;\n}\n'
    )
    found = check_sources(StaticSpec(whitelist=("printf", "puts")), "c", {"m.c": source})
    assert places(found) == [("memcpy", "m.c", 5, 3)]
    assert found[0].rule == "whitelist"


JAVA_SOURCE = b"""import java.util.*;
import java.io.File;
import static java.lang.Math.max;

public class Main {
    // Runtime.getRuntime().exec("commented")
    static void exec(String c) throws Exception { Runtime.getRuntime().exec(c); }

    public static void main(String[] args) throws Exception {
        List<String> l = new ArrayList<>();
        new ProcessBuilder("ls").start();
        java.lang.reflect.Method m = null;
        System.exit(max(1, 2));
        exec("mine");
    }
}
"""


def test_java_scan() -> None:
    scan = scan_java(JAVA_SOURCE, "Main.java")
    uses = [(u.name, u.kind, u.line) for u in scan.uses]
    assert ("java.util", UseKind.IMPORT, 1) in uses
    assert ("java.io.File", UseKind.IMPORT, 2) in uses
    assert ("Runtime.getRuntime.exec", UseKind.CALL, 7) in uses
    assert ("ProcessBuilder", UseKind.CALL, 11) in uses
    assert ("java.lang.reflect.Method", UseKind.REFERENCE, 12) in uses
    assert ("System.exit", UseKind.CALL, 13) in uses
    assert not any(line == 6 for _, _, line in uses)
    assert scan.definitions == {"exec", "main"}


def test_java_blacklist() -> None:
    spec = StaticSpec(
        blacklist=("Runtime.getRuntime().exec", "java.lang.ProcessBuilder", "System.exit")
    )
    found = check_sources(spec, "java", {"Main.java": JAVA_SOURCE})
    assert places(found) == [
        ("Runtime.getRuntime().exec", "Main.java", 7, 72),
        ("java.lang.ProcessBuilder", "Main.java", 11, 9),
        ("System.exit", "Main.java", 13, 16),
    ]


def test_java_whitelist_covers_imports_and_qualified_names() -> None:
    spec = StaticSpec(whitelist=("java.util", "java.lang.Math"))
    found = check_sources(spec, "java", {"Main.java": JAVA_SOURCE})
    assert places(found) == [
        ("java.io.File", "Main.java", 2, 1),
        ("java.lang.reflect.Method", "Main.java", 12, 9),
    ]


@pytest.mark.parametrize(
    ("entry", "name", "language", "expected"),
    [
        ("system", "system", Language.C, True),
        ("system", "std::system", Language.CPP, True),
        ("std::thread", "std::thread::join", Language.CPP, True),
        ("std::thread", "std::threadpool", Language.CPP, False),
        ("exec", "Runtime.getRuntime.exec", Language.JAVA, True),
        ("java.util.Scanner", "Scanner.nextInt", Language.JAVA, True),
        ("java.util.Scanner", "java.util.Scanner", Language.JAVA, True),
        ("System.exit", "java.lang.System.exit", Language.JAVA, False),
    ],
)
def test_entry_matching(entry: str, name: str, language: Language, expected: bool) -> None:
    assert matches(entry, name, language) is expected


# -- nm ----------------------------------------------------------------------------
def test_nm_of_a_c_object_with_fortified_and_c99_names() -> None:
    assert nm("nm_c_main_o.txt") == {"scanf", "printf", "helper", "system"}
    assert nm("nm_c_main_o_defined.txt") == {".LC0", ".LC1", ".LC2", "main"}
    assert nm("nm_c_helper_o.txt") == set()


def test_nm_of_programs_strips_versions_and_reads_dynamic_symbols() -> None:
    assert nm("nm_c_stripped.txt") == set()  # "nm: stripped: no symbols"
    assert nm("nm_c_prog.txt") == nm("nm_c_stripped_dynamic.txt")
    assert {"system", "printf", "scanf", "__libc_start_main"} <= nm("nm_c_prog.txt")


def test_nm_of_a_cpp_object_is_demangled_into_plain_names() -> None:
    names = nm("nm_cpp_prog_o.txt")
    assert {"std::thread::join", "std::ostream::operator<<", "system", "memmove"} <= names
    assert "std::thread::_M_start_thread" in names
    assert not any("(" in n for n in names)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("system@GLIBC_2.2.5", "system"),
        ("__isoc99_scanf@GLIBC_2.7", "scanf"),
        ("__printf_chk", "printf"),
        ("__stack_chk_fail", "__stack_chk_fail"),
        ("std::thread::join()", "std::thread::join"),
        ("std::ostream::operator<<(int)", "std::ostream::operator<<"),
        ("void std::sort<int*>(int*, int*)", "std::sort"),
        ("helper(int) [clone .cold]", "helper"),
    ],
)
def test_normalise_symbol(raw: str, name: str) -> None:
    assert normalise_symbol(raw) == name


def test_runtime_internals() -> None:
    for name in (
        "__stack_chk_fail",
        "_GLOBAL_OFFSET_TABLE_",
        "__cxa_atexit",
        "std::cout",
        "operator new",
        "vtable for __cxxabiv1::__si_class_type_info",
        "_ITM_x",
    ):
        assert is_runtime_internal(name), name
    for name in ("system", "printf", "strtok", "pthread_create"):
        assert not is_runtime_internal(name), name


def test_parse_nm_is_bounded_and_ignores_junk() -> None:
    text = "garbage line\n\n" + "".join(f"                 U sym{i}\n" for i in range(30_000))
    names, complete = parse_nm(text)
    assert not complete
    assert len(names) == 20_000


def test_sections_are_cut_by_the_secret_marker_only() -> None:
    marker = "f" * 32
    text = (
        f"{marker} U\n                 U system\n"
        "deadbeef END\n"  # a student's symbol cannot fake the marker
        f"{marker} D\n0000000000000000 T main\n"
        f"{marker} U\n                 U puts\n{marker} D\n"
        f"{marker} END\n"
    )
    objects, complete = _split(text, marker, ["main.o", "prog"])
    assert complete
    assert [(o.path, o.undefined, o.defined) for o in objects] == [
        ("main.o", {"system"}, {"main"}),
        ("prog", {"puts"}, set()),
    ]
    cut, complete = _split(text.split(f"{marker} D\n0", 1)[0], marker, ["main.o", "prog"])
    assert not complete
    assert [o.path for o in cut] == ["main.o"]


def test_compiled_files_are_the_students_objects_and_programs() -> None:
    files = [
        WorkspaceFile("prog", 0o755, True),
        WorkspaceFile("main.o", 0o644, True),
        WorkspaceFile("lib/util.a", 0o644, True),
        WorkspaceFile("run.sh", 0o755, True),
        WorkspaceFile("main.c", 0o644, True),
        WorkspaceFile("support.o", 0o644, False),
    ]
    paths, complete = compiled_files(files)
    assert paths == ["lib/util.a", "main.o", "prog"]
    assert complete


# -- judging symbols ----------------------------------------------------------------
def _objects() -> list[ObjectSymbols]:
    return [
        ObjectSymbols("main.o", nm("nm_c_main_o.txt"), nm("nm_c_main_o_defined.txt")),
        ObjectSymbols("helper.o", nm("nm_c_helper_o.txt"), {"helper"}),
        ObjectSymbols("prog", nm("nm_c_prog.txt"), set()),
    ]


def _judge(
    spec: StaticSpec,
    *,
    source_uses: dict[str, list[Use]] | None = None,
    already: set[str] | None = None,
) -> list[StaticFinding]:
    return symbol_findings(
        _objects(),
        Language.C,
        Context(spec),
        source_uses=source_uses or {},
        already=already or set(),
        instructor_calls=frozenset(),
    )


def test_a_hidden_blacklisted_symbol_is_found_once() -> None:
    found = _judge(StaticSpec(blacklist=("system",)))
    assert places(found) == [("system", "main.o", None, None)]
    assert found[0].message == (
        "main.o: `system` is used by the compiled program (main.o) and is not allowed "
        "in this assignment"
    )


def test_a_symbol_the_source_scan_reported_is_not_repeated() -> None:
    assert _judge(StaticSpec(blacklist=("system",)), already={"system"}) == []


def test_the_place_comes_from_the_source() -> None:
    use = Use("system", UseKind.REFERENCE, "main.c", 4, 20)
    found = _judge(StaticSpec(blacklist=("system",)), source_uses={"system": [use]})
    assert places(found) == [("system", "main.c", 4, 20)]


def test_names_a_compiler_adds_need_the_source_to_count() -> None:
    assert _judge(StaticSpec(blacklist=("puts",))) == []
    objects = [ObjectSymbols("m.o", {"puts"}, set())]
    use = Use("puts", UseKind.CALL, "m.c", 3, 5)
    found = symbol_findings(
        objects,
        Language.C,
        Context(StaticSpec(blacklist=("puts",))),
        source_uses={"puts": [use]},
        already=set(),
        instructor_calls=frozenset(),
    )
    assert places(found) == [("puts", "m.c", 3, 5)]


def test_whitelist_from_symbols_ignores_runtime_and_the_students_own_functions() -> None:
    found = _judge(StaticSpec(whitelist=("printf", "scanf")))
    assert places(found) == [("system", "main.o", None, None)]  # helper is defined in helper.o
    assert found[0].rule == "whitelist"


def test_instructor_code_linked_into_a_program_is_not_the_students() -> None:
    objects = [ObjectSymbols("prog", {"system", "printf"}, set())]
    found = symbol_findings(
        objects,
        Language.C,
        Context(StaticSpec(blacklist=("system",))),
        source_uses={},
        already=set(),
        instructor_calls=frozenset({"system"}),
    )
    assert found == []


def test_a_function_glibc_inlines_is_reported_by_the_name_the_source_wrote() -> None:
    objects = [ObjectSymbols("main.o", {"strtol", "printf"}, set())]
    use = Use("atoi", UseKind.CALL, "main.c", 7, 12)

    def judge(spec: StaticSpec) -> list[StaticFinding]:
        return symbol_findings(
            objects,
            Language.C,
            Context(spec),
            source_uses={"atoi": [use]},
            already=set(),
            instructor_calls=frozenset(),
        )

    assert places(judge(StaticSpec(whitelist=("printf",)))) == [("atoi", "main.c", 7, 12)]
    assert judge(StaticSpec(whitelist=("printf", "atoi"))) == []
    assert judge(StaticSpec(blacklist=("strtol",))) == []  # the student wrote atoi, not strtol
