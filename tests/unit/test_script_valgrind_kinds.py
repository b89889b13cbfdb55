"""The script and valgrind kinds at load time: options, package files, limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.grading.kinds.script import ScriptOptions, harness_files
from assay.grading.kinds.valgrind import VALGRIND_MIN_MEMORY, ValgrindOptions, valgrind_limits
from assay.grading.loader import load_package
from assay.sandbox.spec import MIB, Limits


def package(tmp_path: Path, tests: str, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "pkg"
    root.mkdir()
    manifest = '[assignment]\nname = "k"\nenvironment = "c"\n\n' + tests
    (root / "assignment.toml").write_text(manifest)
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


# -- script ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("results_file", "fmt", "expected"),
    [
        ("r.tap", "auto", "tap"),
        ("out/r.json", "auto", "json"),
        ("r.txt", "auto", "json"),
        ("r.txt", "tap", "tap"),
        (None, "auto", "json"),
    ],
)
def test_results_format(results_file: str | None, fmt: str, expected: str) -> None:
    options = ScriptOptions.model_validate(
        {"command": "sh check.sh", "results_file": results_file, "format": fmt}
    )
    assert options.command == ("sh", "check.sh")
    assert options.results_format == expected


@pytest.mark.parametrize("bad", ["../r.json", "/tmp/r.json", ".", ""])
def test_results_file_must_be_a_workspace_file(bad: str) -> None:
    with pytest.raises(ValueError, match="results_file"):
        ScriptOptions.model_validate({"command": ["true"], "results_file": bad})


def test_script_needs_a_command(tmp_path: Path) -> None:
    root = package(tmp_path, '[[tests]]\nname = "s"\nkind = "script"\n')
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.key == "tests[0].command"


def test_harness_files_by_name_with_directories_and_exec_bits(tmp_path: Path) -> None:
    tests = '[[tests]]\nname = "s"\nkind = "script"\ncommand = ["{harness}/run.sh"]\n'
    tests += 'files = ["tests/run.sh", "tests/lib"]\n'
    root = package(
        tmp_path,
        tests,
        {"tests/run.sh": "exit 0\n", "tests/lib/a.py": "", "tests/lib/sub/b.py": ""},
    )
    os.chmod(root / "tests/run.sh", 0o700)
    with load_package(root) as loaded:
        options = loaded.options["s"]
        assert isinstance(options, ScriptOptions)
        files, executable = harness_files(loaded, options)
    assert sorted(files) == ["lib/a.py", "lib/sub/b.py", "run.sh"]
    assert executable == {"run.sh"}


def test_two_harness_files_with_one_name_are_refused(tmp_path: Path) -> None:
    tests = '[[tests]]\nname = "s"\nkind = "script"\ncommand = ["true"]\n'
    tests += 'files = ["a/check.sh", "b/check.sh"]\n'
    root = package(tmp_path, tests, {"a/check.sh": "", "b/check.sh": ""})
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.key == "tests[0].files[1]" and "check.sh" in str(info.value)


def test_missing_harness_file_names_the_key(tmp_path: Path) -> None:
    tests = '[[tests]]\nname = "s"\nkind = "script"\ncommand = ["true"]\nfiles = ["nope.sh"]\n'
    with pytest.raises(PackageError) as info:
        load_package(package(tmp_path, tests))
    assert info.value.key == "tests[0].files[0]"


# -- valgrind ----------------------------------------------------------------------------------
def test_valgrind_needs_a_command(tmp_path: Path) -> None:
    root = package(tmp_path, '[[tests]]\nname = "v"\nkind = "valgrind"\n')
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.key == "tests[0].command" and "[run].command" in str(info.value)


def test_valgrind_uses_run_command(tmp_path: Path) -> None:
    tests = '[run]\ncommand = "./prog"\n\n[[tests]]\nname = "v"\nkind = "valgrind"\nleaks = false\n'
    with load_package(package(tmp_path, tests)) as loaded:
        options = loaded.options["v"]
        assert isinstance(options, ValgrindOptions)
        assert options.command is None and not options.leaks and options.errors


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"exit_code": 300}, "between 0 and 255"),
        ({"stdin": "a", "stdin_file": "b"}, "not both"),
        ({"expected": "a", "expected_file": "b"}, "not both"),
        ({"time_factor": 0.5}, "greater than or equal to 1"),
        ({"command": []}, "must not be empty"),
        ({"checkers": "tokens"}, "Extra inputs"),
        ({"leak_kinds": "definite,lost"}, "unknown leak kind"),
        ({"fail_on": "any", "leaks": False}, "leave out leaks"),
    ],
)
def test_valgrind_bad_options(data: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        ValgrindOptions.model_validate(data)


def test_valgrind_limits_are_widened() -> None:
    options = ValgrindOptions.model_validate({"time_factor": 4})
    small = Limits(cpu_time_s=1, wall_time_s=2, memory_bytes=64 * MIB, output_bytes=1 * MIB)
    widened = valgrind_limits(small, options)
    assert (widened.cpu_time_s, widened.wall_time_s) == (4, 8)
    assert widened.memory_bytes == VALGRIND_MIN_MEMORY
    assert widened.output_bytes == 8 * MIB
    big = Limits(memory_bytes=2048 * MIB)
    assert valgrind_limits(big, options).memory_bytes == 2048 * MIB
