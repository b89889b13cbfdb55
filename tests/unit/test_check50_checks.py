"""Translating check50 checks from their syntax tree: the forms of real problems."""

from __future__ import annotations

import re
from pathlib import Path

from assay.grading.check50_checks import Check, command_argv, decimal, read_checks, simple_checks


def _checks(tmp_path: Path, source: str, **files: str) -> dict[str, Check]:
    (tmp_path / "__init__.py").write_text(source)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return {c.name: c for c in read_checks(tmp_path)}


def test_aliases_flags_files_and_numbers(tmp_path: Path) -> None:
    checks = _checks(
        tmp_path,
        "from check50 import check, exists, run, EOF\n"
        "import check50.c as cc\n"
        'EXPECTED = "out"\n'
        "@check()\n"
        "def compiles():\n"
        '    """compiles"""\n'
        '    exists("a.c")\n'
        '    cc.compile("a.c", "b.c", exe_name="prog", lcs50=True, std="c99")\n'
        "@check(compiles)\n"
        "def runs():\n"
        '    """runs"""\n'
        '    name = "Ann"\n'
        '    run("./prog").stdin(name, prompt=False).stdout(open("want.txt").read())'
        '.stdout(EXPECTED + "!", regex=False).stdout(3.5).stdin(EOF).stdout(EOF).exit()\n',
        **{"want.txt": "hello\n"},
    )
    compiles, runs = checks["compiles"], checks["runs"]
    assert compiles.required == ["a.c"]
    assert compiles.build == [
        ["clang", "a.c", "b.c", "-o", "prog", "-std=c99", "-ggdb", "-lm", "-lcs50"]
    ]
    assert runs.dependency == "compiles"
    (test,) = runs.tests
    assert test.options["steps"] == [
        {"send": "Ann", "prompt": False},
        {"expect_regex": "hello\n"},
        {"expect": "out!"},
        {"expect_regex": decimal(3.5)},
        {"send_eof": True},
        {"expect_eof": True},
        {"exit": "any"},
    ]


def test_decimal_is_check50s_pattern() -> None:
    assert decimal(7) == r"(?<![\d\-])7(?!(\.?\d))"
    assert re.search(decimal(7), "x 7\n") and not re.search(decimal(7), "17")
    assert not re.search(decimal(7), "7.5") and decimal(-2) == r"\-2(?!(\.?\d))"


def test_a_shell_command_runs_under_bash() -> None:
    assert command_argv("./a 1 2") == ["./a", "1", "2"]
    assert command_argv("./a < in.txt") == ["bash", "-c", "./a < in.txt"]


def test_python_logic_leaves_the_check_out_with_its_lines(tmp_path: Path) -> None:
    checks = _checks(
        tmp_path,
        "import check50\n"
        "@check50.check()\n"
        "def custom():\n"
        '    """custom"""\n'
        '    out = check50.run("./a").stdout()\n'
        "    if out != 'x':\n"
        "        raise check50.Mismatch('x', out)\n"
        "@check50.check()\n"
        "def env():\n"
        '    check50.run("./a", env={"A": "1"}).exit(0)\n',
    )
    custom = checks["custom"]
    assert not custom.translated
    assert [p.where for p in custom.problems] == ["__init__.py:5", "__init__.py:6"]
    assert "env=" in checks["env"].problems[0].what


def test_simple_yaml_checks_are_compiled_as_check50_compiles_them() -> None:
    checks = simple_checks(
        {
            "adds two": [{"run": "python3 add.py", "stdin": [2, 3], "stdout": "5\n", "exit": 0}],
            "1 more": [{"run": "./a", "stdout": "x"}, {"run": "./a", "shell": "no"}],
        }
    )
    assert [c.name for c in checks] == ["adds_two", "_1_more"]
    (test,) = checks[0].tests
    assert test.options == {
        "command": ["python3", "add.py"],
        "steps": [{"send": "2\n3", "prompt": False}, {"expect": "5\n"}, {"exit": 0}],
    }
    assert checks[0].translated
    assert not checks[1].translated  # an unknown key in a run
    assert checks[1].tests[0].options["steps"] == [{"expect": "x"}, {"exit": "any"}]
