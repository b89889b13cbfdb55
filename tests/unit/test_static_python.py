"""Python static checks: imports, calls, aliases and dynamic imports found with ``ast``."""

from __future__ import annotations

import textwrap

import pytest

from assay.grading.outcome import StaticFinding
from assay.grading.spec import StaticSpec
from assay.grading.static import check_sources, selected
from assay.grading.static.python import UncheckableSource, scan_python
from assay.grading.static.rules import Language, UseKind, matches


def findings(
    source: str, *, files: dict[str, str] | None = None, **spec: object
) -> list[StaticFinding]:
    sources = {"main.py": textwrap.dedent(source), **(files or {})}
    return check_sources(
        StaticSpec.model_validate(spec), "python3", {k: v.encode() for k, v in sources.items()}
    )


def places(found: list[StaticFinding]) -> list[tuple[str, int | None, int | None]]:
    return [(f.name, f.line, f.column) for f in found]


def test_import_and_attribute_call_of_a_blacklisted_module() -> None:
    found = findings(
        """\
        import os

        os.system("ls")
        """,
        blacklist=["os"],
    )
    assert places(found) == [("os", 1, 1), ("os", 3, 1)]
    assert found[0].message == "main.py, line 1: importing `os` is not allowed in this assignment"
    assert found[1].message == (
        "main.py, line 3: `os.system` is not allowed in this assignment "
        "(nothing from `os` may be used)"
    )
    assert {f.rule for f in found} == {"blacklist"}


def test_from_import_is_the_dotted_name() -> None:
    found = findings("from os import system\nsystem('ls')\n", blacklist=["os.system"])
    assert places(found) == [("os.system", 1, 1), ("os.system", 2, 1)]


def test_a_plain_import_of_the_module_is_not_a_use_of_one_function() -> None:
    assert findings("import os\nprint(os.getcwd())\n", blacklist=["os.system"]) == []


def test_aliases_resolve_to_the_module() -> None:
    source = """\
    import os as o
    import subprocess as sp
    run = sp.run
    o.system("ls")
    run(["ls"])
    """
    found = findings(source, blacklist=["os.system", "subprocess.run"])
    assert places(found) == [
        ("subprocess.run", 3, 7),
        ("os.system", 4, 1),
        ("subprocess.run", 5, 1),
    ]


def test_a_variable_holding_a_module_resolves_too() -> None:
    found = findings("import os\nshell = os\nshell.system('x')\n", blacklist=["os.system"])
    assert places(found) == [("os.system", 3, 1)]


def test_builtin_calls_and_references() -> None:
    source = """\
    x = eval("1")
    f = eval
    values = list(map(eval, ["2"]))
    """
    assert places(findings(source, blacklist=["eval"])) == [
        ("eval", 1, 5),
        ("eval", 2, 5),
        ("eval", 3, 19),
    ]


def test_dynamic_imports_with_literal_names_are_caught() -> None:
    source = """\
    import importlib
    __import__("os").system("a")
    importlib.import_module("subprocess")
    getattr(__import__("os"), "popen")("b")
    """
    found = findings(source, blacklist=["os", "subprocess"])
    # one finding per name and line
    assert places(found) == [("os", 2, 1), ("subprocess", 3, 1), ("os", 4, 1)]
    assert "`os.system`" in found[0].message
    assert found[1].message == (
        "main.py, line 3: importing `subprocess` is not allowed in this assignment"
    )
    assert "`os.popen`" in found[2].message


def test_getattr_with_a_literal_name() -> None:
    found = findings("import os\ngetattr(os, 'system')('x')\n", blacklist=["os.system"])
    assert places(found) == [("os.system", 2, 1)]


def test_an_import_by_a_computed_name_is_flagged_under_a_blacklist() -> None:
    found = findings("name = 'o' + 's'\nm = __import__(name)\n", blacklist=["os"])
    assert places(found) == [("__import__", 2, 5)]
    assert "cannot be checked" in found[0].message


def test_star_import_that_brings_in_a_forbidden_name() -> None:
    found = findings("from os import *\nsystem('x')\n", blacklist=["os.system"])
    assert places(found) == [("os.system", 1, 1)]
    assert "`from os import *` brings in `os.system`" in found[0].message


def test_method_entries_match_methods_of_any_object() -> None:
    found = findings("xs = [2, 1]\nxs.sort()\nys = sorted(xs)\n", blacklist=[".sort", "sorted"])
    assert places(found) == [(".sort", 2, 1), ("sorted", 3, 6)]
    assert (
        found[0].message == "main.py, line 2: the method `sort` is not allowed in this assignment"
    )


def test_the_students_own_functions_and_shadowing_names_are_not_library_uses() -> None:
    source = """\
    def eval(text):
        return len(text)

    class sorted:
        pass

    print(eval("x"), sorted())
    """
    assert findings(source, blacklist=["eval", "sorted"]) == []


def test_strings_comments_and_annotations_are_not_uses() -> None:
    source = """\
    # os.system("ls")
    text = "eval('1')"
    def f(x: "eval") -> int:
        return 1
    """
    assert findings(source, blacklist=["os", "eval"]) == []


def test_columns_count_characters_not_bytes() -> None:
    found = findings('s = "héllo"; eval(s)\n', blacklist=["eval"])
    assert places(found) == [("eval", 1, 14)]


def test_unparseable_source_gives_no_finding() -> None:
    assert findings("import os\ndef f(:\n", blacklist=["os"]) == []


def test_nesting_the_parser_cannot_handle_is_reported_not_ignored() -> None:
    deep = "x = " + " + ".join(["1"] * 200_000) + "\n"
    with pytest.raises(UncheckableSource):
        scan_python(deep.encode(), "main.py")
    found = findings(deep, blacklist=["eval"])
    assert places(found) == [("main.py", None, None)]
    assert "nested too deeply" in found[0].message


def test_long_chains_are_walked_without_recursion() -> None:
    source = "import os\nx = " + " + ".join(["1"] * 2000) + " + os.system('x')\n"
    assert places(findings(source, blacklist=["os.system"])) == [("os.system", 2, 8005)]


def test_compiled_python_files_cannot_be_checked() -> None:
    found = check_sources(
        StaticSpec(blacklist=("os",)),
        "python3",
        {"main.py": b"import helper\n", "helper.pyc": b"\0"},
    )
    assert places(found) == [("helper.pyc", None, None)]
    assert "cannot be checked" in found[0].message


def test_whitelist_covers_imports_and_calls_of_library_names() -> None:
    source = """\
    from __future__ import annotations
    import math
    import random
    from helper import twice

    def area(r):
        return math.pi * math.pow(r, 2)

    class Shape:
        pass

    try:
        print(area(2), twice(3), Shape(), len("ab"), random.random())
        xs = [1]
        xs.append(2)
    except ValueError:
        raise RuntimeError("no")
    if __name__ == "__main__":
        eval("1")
    """
    found = findings(
        source,
        files={"helper.py": "def twice(x):\n    return 2 * x\n"},
        whitelist=["math.pow", "print", "len"],
    )
    assert places(found) == [("random", 3, 1), ("random.random", 13, 50), ("eval", 19, 5)]
    assert all(f.rule == "whitelist" for f in found)
    assert found[-1].message == (
        "main.py, line 19: `eval` is not allowed in this assignment "
        "(allowed: `math.pow`, `print`, `len`)"
    )


def test_a_students_module_named_like_a_standard_one_is_not_theirs() -> None:
    found = findings(
        "import os\nos.system('x')\n", files={"os.py": "def system(c): pass\n"}, whitelist=["print"]
    )
    assert places(found) == [("os", 1, 1), ("os.system", 2, 1)]


def test_scan_reports_kinds() -> None:
    scan = scan_python(b"import json\njson.dumps(1)\nx = json.loads\n[].pop()\n", "m.py")
    assert scan is not None
    assert [(u.name, u.kind, u.line) for u in scan.uses] == [
        ("json", UseKind.IMPORT, 1),
        ("json.dumps", UseKind.CALL, 2),
        ("json.loads", UseKind.REFERENCE, 3),
        (".pop", UseKind.METHOD, 4),
    ]


@pytest.mark.parametrize(
    ("entry", "name", "expected"),
    [
        ("os", "os", True),
        ("os", "os.system", True),
        ("os", "osx.thing", False),
        ("os.system", "os", False),
        ("eval", "builtins.eval", True),
        (".sort", ".sort", True),
        (".sort", "list.sort", True),
        ("sort", ".sort", False),
    ],
)
def test_entry_matching(entry: str, name: str, expected: bool) -> None:
    assert matches(entry, name, Language.PYTHON) is expected


def test_files_selected_by_globs() -> None:
    default = StaticSpec(blacklist=("os",))
    assert selected("pkg/mod.py", default, "python3")
    assert not selected("notes.txt", default, "python3")
    only_src = StaticSpec(blacklist=("os",), files=("src/*.py",))
    assert selected("src/a.py", only_src, "python3")
    assert not selected("tests/a.py", only_src, "python3")
    found = check_sources(
        only_src, "python3", {"tests/a.py": b"import os\n", "src/b.py": b"import os\n"}
    )
    assert [f.file for f in found] == ["src/b.py"]


def test_disabled_checks_find_nothing() -> None:
    assert check_sources(StaticSpec(), "python3", {"main.py": b"import os\n"}) == []
