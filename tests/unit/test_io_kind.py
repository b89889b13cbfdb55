"""The io kind's options and its load-time checks (no sandbox needed)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from assay.errors import PackageError
from assay.grading.checkers import CustomSpec, FloatSpec, WhitespaceSpec
from assay.grading.kinds.io import IoOptions
from assay.grading.loader import load_package
from assay.grading.package import AssignmentPackage

HEAD = """
[assignment]
name = "io-test"
[run]
command = ["python3", "main.py"]
"""


def make_package(
    tmp_path: Path, tests: str, *, head: str = HEAD, files: dict[str, str] | None = None
) -> Path:
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "assignment.toml").write_text(head + textwrap.dedent(tests))
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def load(tmp_path: Path, tests: str, **kwargs: object) -> AssignmentPackage:
    return load_package(make_package(tmp_path, tests, **kwargs))  # type: ignore[arg-type]


def load_error(tmp_path: Path, tests: str, **kwargs: object) -> PackageError:
    with pytest.raises(PackageError) as caught:
        load(tmp_path, tests, **kwargs)
    return caught.value


# -- options ------------------------------------------------------------------------------
def test_defaults() -> None:
    options = IoOptions()
    assert options.command is None
    assert options.args == ()
    assert options.exit_code == 0
    assert options.checker == WhitespaceSpec()
    assert not options.checks_stdout


def test_command_string_is_split_like_a_shell() -> None:
    assert IoOptions(command="python3 'my prog.py' -v").command == ("python3", "my prog.py", "-v")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"command": []}, "must not be empty"),
        ({"command": ""}, "must not be empty"),
        ({"stdin": "1", "stdin_file": "a"}, "stdin or stdin_file, not both"),
        ({"expected": "1", "expected_file": "a"}, "expected or expected_file, not both"),
        ({"exit_code": 256}, "between 0 and 255"),
        ({"exit_code": "some"}, "any"),
        ({"input_files": {"../x": "tests/x"}}, "relative and stay inside"),
        ({"output_files": {"/etc/passwd": "tests/x"}}, "relative and stay inside"),
        ({"output_files": {".": "tests/x"}}, "not a file path"),
        ({"stdin_fle": "x"}, "Extra inputs are not permitted"),
        ({"checker": "fuzzy"}, "unknown checker"),
    ],
)
def test_bad_options(data: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError) as caught:
        IoOptions.model_validate(data)
    assert needle in str(caught.value)


def test_exit_code_any_and_paths_normalised() -> None:
    options = IoOptions.model_validate(
        {"exit_code": "any", "input_files": {"./data//in.txt": "tests/in.txt"}}
    )
    assert options.exit_code == "any"
    assert options.input_files == {"data/in.txt": "tests/in.txt"}


def test_stdout_is_checked_with_an_expected_text_or_a_custom_checker() -> None:
    assert IoOptions(expected="").checks_stdout
    assert IoOptions(expected_file="tests/a").checks_stdout
    assert IoOptions.model_validate(
        {"checker": {"type": "custom", "program": "c.py"}}
    ).checks_stdout


# -- loading packages ------------------------------------------------------------------------
def test_a_valid_package_loads_with_parsed_options(tmp_path: Path) -> None:
    package = load(
        tmp_path,
        """
        [[tests]]
        name = "sum"
        stdin_file = "tests/1.in"
        expected_file = "tests/1.ans"
        checker = { type = "float", rel_tol = 1e-4 }
        input_files = { "data.txt" = "tests/data.txt" }
        output_files = { "out.txt" = "tests/out.ans" }

        [[tests]]
        name = "custom"
        command = "python3 other.py"
        args = ["--fast"]
        exit_code = 3
        checker = { type = "custom", program = "checkers/check.py", args = ["x"] }
        """,
        files={
            "tests/1.in": "1 2\n",
            "tests/1.ans": "3\n",
            "tests/data.txt": "d",
            "tests/out.ans": "o",
            "checkers/check.py": "",
        },
    )
    options = package.options["sum"]
    assert isinstance(options, IoOptions)
    assert options.checker == FloatSpec(rel_tol=1e-4)
    custom = package.options["custom"]
    assert isinstance(custom, IoOptions)
    assert custom.command == ("python3", "other.py")
    assert custom.checker == CustomSpec(program="checkers/check.py", args=("x",))


def test_no_command_anywhere_is_an_error_naming_the_test(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        [[tests]]
        name = "t"
        expected = "1"
        """,
        head='[assignment]\nname = "io-test"\n',
    )
    assert error.key == "tests[0].command"
    assert "[run].command" in (error.fix or "")


def test_a_test_command_is_enough_without_run_command(tmp_path: Path) -> None:
    package = load(
        tmp_path,
        """
        [[tests]]
        name = "t"
        command = ["python3", "main.py"]
        """,
        head='[assignment]\nname = "io-test"\n',
    )
    assert "t" in package.options


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ('stdin_file = "tests/missing.in"', "tests[1].stdin_file"),
        ('expected_file = "tests/missing.ans"', "tests[1].expected_file"),
        ('input_files = { "a.txt" = "tests/missing" }', "tests[1].input_files.a.txt"),
        ('output_files = { "o.txt" = "tests/missing" }', "tests[1].output_files.o.txt"),
        ('checker = { type = "custom", program = "checkers/none.py" }', "tests[1].checker.program"),
        ('expected_file = "../outside"', "tests[1].expected_file"),
    ],
)
def test_missing_package_files_name_the_key(tmp_path: Path, entry: str, key: str) -> None:
    error = load_error(
        tmp_path,
        f"""
        [[tests]]
        name = "fine"

        [[tests]]
        name = "broken"
        {entry}
        """,
    )
    assert error.key == key
    assert error.file == "assignment.toml"


def test_an_input_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        [[tests]]
        name = "t"
        input_files = { "d" = "tests" }
        """,
        files={"tests/x": ""},
    )
    assert error.key == "tests[0].input_files"
    assert "not a file" in error.message


def test_a_bad_exit_code_names_the_key(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        [[tests]]
        name = "t"
        exit_code = -1
        """,
    )
    assert error.key == "tests[0].exit_code"


def test_an_unknown_checker_names_the_key_and_the_choices(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        [[tests]]
        name = "t"
        checker = "fuzzy"
        """,
    )
    assert error.key == "tests[0].checker"
    assert "unknown checker 'fuzzy'; use one of: whitespace" in error.message


def test_custom_checker_must_be_source_or_executable(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        [[tests]]
        name = "t"
        checker = { type = "custom", program = "checkers/check.sh" }
        """,
        files={"checkers/check.sh": "#!/bin/sh\nexit 42\n"},
    )
    assert error.key == "tests[0].checker.program"
    assert "executable" in error.message
    (tmp_path / "pkg" / "checkers" / "check.sh").chmod(0o755)
    assert load_package(tmp_path / "pkg").options["t"]


def test_regex_patterns_are_compiled_at_load_time(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        [[tests]]
        name = "t"
        checker = "regex"
        expected_file = "tests/1.ans"
        """,
        files={"tests/1.ans": "value: (\\d+\n"},
    )
    assert error.key == "tests[0].expected_file"
    assert "not a valid regular expression" in error.message


def test_each_run_takes_the_tests_keys_and_replaces_what_the_run_gives() -> None:
    options = IoOptions.model_validate(
        {
            "args": ["-v"],
            "stdin_file": "tests/in.txt",
            "expected": "x\n",
            "checker": "tokens",
            "message": "hint",
            "runs": [{"args": ["1"]}, {"stdin": "2\n", "expected_file": "tests/2.ans"}],
        }
    )
    first, second = options.each_run()
    assert (first.args, first.stdin_file, first.expected) == (("1",), "tests/in.txt", "x\n")
    assert (second.args, second.stdin, second.stdin_file) == (("-v",), "2\n", None)
    assert (second.expected, second.expected_file) == (None, "tests/2.ans")
    assert first.checker == second.checker == options.checker
    assert first.runs == second.runs == ()
    assert IoOptions.model_validate({"expected": "a"}).each_run() == [
        IoOptions.model_validate({"expected": "a"})
    ]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"expected_stderr": "a", "expected_stderr_file": "b"}, "not both"),
        ({"runs": [{"stdin": "a", "stdin_file": "b"}]}, "not both"),
        ({"runs": [{"exit_code": 300}]}, "between 0 and 255"),
        ({"runs": [{"command": ["x"]}]}, "Extra inputs"),
        ({"runs": [{}] * 101}, "at most 100"),
        ({"message": "x" * 2001}, "at most 2000"),
    ],
)
def test_bad_io_options(data: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        IoOptions.model_validate(data)
