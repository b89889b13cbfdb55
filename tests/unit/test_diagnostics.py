"""Build logs -> diagnostics, on compiler output captured in the sandbox (clang: hand-written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.grading.diagnostics import (
    MAX_DIAGNOSTICS,
    MAX_MESSAGE_CHARS,
    parse_diagnostics,
    report_path,
    workspace_path,
)
from assay.grading.outcome import Diagnostic, Severity

FIXTURES = Path(__file__).parent.parent / "fixtures" / "diagnostics"
SOURCES = {p.name: p.read_bytes() for p in (FIXTURES / "sources").iterdir()}

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE


def parse(name: str, environment: str) -> list[tuple[str, int | None, int | None, Severity]]:
    found = parse_diagnostics((FIXTURES / name).read_text(), environment, sources=SOURCES)
    return [(d.file, d.line, d.column, d.severity) for d in found]


def one(name: str, environment: str) -> Diagnostic:
    found = parse_diagnostics((FIXTURES / name).read_text(), environment, sources=SOURCES)
    assert len(found) == 1, found
    return found[0]


def test_gcc_errors_warnings_and_notes_with_columns() -> None:
    assert parse("gcc_syntax.txt", "c") == [
        ("syn.c", 4, 5, E),
        ("syn.c", 5, 5, W),
        ("syn.c", 6, 12, E),
        ("syn.c", 6, 12, N),
        ("syn.c", 3, 9, W),
    ]
    first = parse_diagnostics((FIXTURES / "gcc_syntax.txt").read_text(), "c")[0]
    assert first.message == "expected \u2018,\u2019 or \u2018;\u2019 before \u2018printf\u2019"
    assert first.tool == "gcc"


def test_gcc_without_columns() -> None:
    assert parse("gcc_no_column.txt", "c") == [
        ("syn.c", 4, None, E),
        ("syn.c", 5, None, W),
        ("syn.c", 6, None, E),
        ("syn.c", 6, None, N),
    ]


def test_gcc_fatal_error_is_an_error_and_dot_slash_is_stripped() -> None:
    d = one("gcc_fatal.txt", "c")
    assert (d.file, d.line, d.column, d.severity) == ("fatal.c", 1, 10, E)
    assert d.message == "missing.h: No such file or directory"


def test_gcc_format_warning_ignores_the_annotated_source_lines() -> None:
    assert parse("gcc_warnings.txt", "c") == [
        ("warn.c", 2, 32, W),
        ("warn.c", 2, 20, W),
        ("warn.c", 3, 27, W),
    ]


def test_gxx_drops_notes_in_system_headers_and_instantiation_context() -> None:
    found = parse("gxx_template.txt", "cpp")
    assert found == [
        ("tmpl.cpp", 7, 16, E),
        ("tmpl.cpp", 7, 17, E),
        ("tmpl.cpp", 9, 21, E),
        ("tmpl.cpp", 10, 5, E),
        ("tmpl.cpp", 3, 47, E),
    ]
    tools = {d.tool for d in parse_diagnostics((FIXTURES / "gxx_template.txt").read_text(), "cpp")}
    assert tools == {"g++"}


def test_make_output_is_parsed_like_the_compiler_it_runs() -> None:
    assert parse("make_gcc.txt", "c") == parse("gcc_syntax.txt", "c")


@pytest.mark.parametrize(
    ("name", "file", "line", "message"),
    [
        ("gcc_link.txt", "link.c", None, "undefined reference to `helper'"),
        ("gcc_link_debug.txt", "link.c", 2, "undefined reference to `helper'"),
        ("gcc_multiple_definition.txt", "", None, "multiple definition of `shared'"),
        ("gcc_missing_library.txt", "", None, "cannot find -lnotthere: No such file or directory"),
        ("clang_link.txt", "main.c", None, "undefined reference to `helper'"),
        ("clang_lld.txt", "main.cpp", 4, "undefined symbol: helper(int)"),
    ],
)
def test_linker_errors(name: str, file: str, line: int | None, message: str) -> None:
    d = one(name, "c")
    assert (d.file, d.line, d.severity, d.message, d.tool) == (file, line, E, message, "ld")


def test_clang_format_and_an_echoed_label_named_error() -> None:
    found = parse_diagnostics((FIXTURES / "clang_errors.txt").read_text(), "c")
    assert [(d.file, d.line, d.column, d.severity) for d in found] == [
        ("main.c", 5, 3, E),
        ("main.c", 3, 7, W),
        ("main.c", 9, 20, W),
        ("main.c", 14, 1, E),
        ("util.h", 2, 10, E),
    ]
    assert found[0].message == "use of undeclared identifier 'y'"
    assert {d.tool for d in found} == {"clang"}


def test_clangxx_note_in_the_students_file_is_kept() -> None:
    found = parse_diagnostics((FIXTURES / "clangxx_template.txt").read_text(), "cpp")
    assert [(d.file, d.line, d.column, d.severity, d.tool) for d in found] == [
        ("shapes.cpp", 12, 5, E, "clang++"),
        ("shapes.cpp", 4, 8, N, "clang++"),
    ]


def test_javac_error_column_from_its_caret() -> None:
    d = one("javac_errors.txt", "java")
    assert (d.file, d.line, d.column, d.severity, d.tool) == ("Main.java", 6, 30, E, "javac")
    assert d.message == "';' expected"


def test_javac_symbol_details_join_the_message() -> None:
    found = parse_diagnostics((FIXTURES / "javac_symbols.txt").read_text(), "java")
    assert [(d.line, d.column) for d in found] == [(3, 28), (4, 9)]
    assert found[0].message == "cannot find symbol (symbol: variable y) (location: class Sym)"


def test_javac_warnings() -> None:
    assert parse("javac_warnings.txt", "java") == [
        ("Warn.java", 5, 9, W),
        ("Warn.java", 5, 24, W),
        ("Warn.java", 6, 16, W),
    ]


def test_python_py_compile_column_accounts_for_the_removed_indentation() -> None:
    d = one("python_py_compile.txt", "python3")
    # "        return (x +": the "(" is the 16th character of the line
    assert (d.file, d.line, d.column, d.severity) == ("bad.py", 3, 16, E)
    assert d.message == "SyntaxError: '(' was never closed"
    assert parse("python_py_compile_many.txt", "python3") == [("bad.py", 3, 16, E)]


def test_python_column_is_unknown_without_the_source() -> None:
    found = parse_diagnostics((FIXTURES / "python_py_compile.txt").read_text(), "python3")
    assert [(d.file, d.line, d.column) for d in found] == [("bad.py", 3, None)]


def test_python_syntax_error_raised_by_an_import_points_at_the_imported_file() -> None:
    d = one("python_import_syntax.txt", "python3")
    assert (d.file, d.line, d.column) == ("helper.py", 2, 8)
    assert d.message.startswith("SyntaxError: invalid syntax")


@pytest.mark.parametrize(
    ("name", "file", "line", "message"),
    [
        ("python_indentation.txt", "indent.py", 3, "IndentationError: unexpected indent"),
        (
            "python_tab_error.txt",
            "tabs.py",
            3,
            "TabError: inconsistent use of tabs and spaces in indentation",
        ),
    ],
)
def test_python_indentation_errors(name: str, file: str, line: int, message: str) -> None:
    d = one(name, "python3")
    assert (d.file, d.line, d.column, d.message) == (file, line, None, message)


def test_python_runtime_error_at_the_last_frame_in_the_workspace() -> None:
    d = one("python_runtime_error.txt", "python3")
    assert (d.file, d.line, d.column, d.tool) == ("lib.py", 5, 12, "python")
    assert d.message.startswith("json.decoder.JSONDecodeError: Expecting property name")


def test_python_warning_line() -> None:
    found = parse_diagnostics('/work/a.py:3: SyntaxWarning: "is" with a literal\n', "python3")
    assert found == [Diagnostic("a.py", 3, None, W, 'SyntaxWarning: "is" with a literal', "python")]


def test_make_error_in_a_makefile() -> None:
    found = parse_diagnostics("Makefile:3: *** missing separator.  Stop.\n", "c")
    assert found == [Diagnostic("Makefile", 3, None, E, "missing separator.  Stop.", "make")]


def test_paths_are_workspace_relative_and_never_host_paths() -> None:
    assert workspace_path("/work/src/./main.c") == "src/main.c"
    assert workspace_path("./a/../b.c") == "b.c"
    assert workspace_path("/work/../etc/passwd") is None
    assert workspace_path("/var/lib/assay/ws/main.c") is None
    assert report_path("/usr/include/stdio.h") == "<system>/stdio.h"
    assert report_path("/srv/host/secret/main.c") == "<system>/main.c"
    text = "/srv/host/secret/x.c:1:2: error: boom\n/work/a/b.c:3:4: warning: hm\n"
    assert [(d.file, d.line) for d in parse_diagnostics(text, "c")] == [
        ("<system>/x.c", 1),
        ("a/b.c", 3),
    ]


def test_diagnostics_and_messages_are_bounded() -> None:
    text = "".join(f"m.c:{i}:1: error: {'x' * 10_000}\n" for i in range(1, 1000))
    found = parse_diagnostics(text, "c")
    assert len(found) == MAX_DIAGNOSTICS
    assert all(len(d.message) <= MAX_MESSAGE_CHARS for d in found)


def test_repeated_diagnostics_are_reported_once() -> None:
    text = "m.c:1:1: error: boom\nm.c:1:1: error: boom\n"
    assert len(parse_diagnostics(text, "c")) == 1


def test_command_lines_and_noise_give_nothing() -> None:
    text = "$ gcc -o prog main.c\ncompilation terminated.\nmake: *** [Makefile:4: x] Error 1\n"
    assert parse_diagnostics(text, "c") == []


def test_a_traceback_without_frames_in_the_workspace_has_no_file() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/runpy.py", line 198, in _run_module_as_main\n'
        "    return _run_code(code, main_globals, None,\n"
        "ModuleNotFoundError: No module named 'nope'\n"
    )
    assert parse_diagnostics(text, "python3") == [
        Diagnostic("", None, None, E, "ModuleNotFoundError: No module named 'nope'", "python")
    ]
