"""Kattis import without a sandbox: flags, layout, errors and the TOML it writes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.grading.kattis import import_kattis, toml_value
from assay.grading.kattis_problem import default_checker
from assay.grading.loader import load_package


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def problem(
    tmp_path: Path, yaml_text: str = "name: Add\n", extra: dict[str, str] | None = None
) -> Path:
    files = {
        "problem.yaml": yaml_text,
        "data/sample/1.in": "1 2\n",
        "data/sample/1.ans": "3\n",
        "data/secret/1.in": "2 2\n",
        "data/secret/1.ans": "4\n",
    }
    files.update(extra or {})
    return write(tmp_path / "add", files)


def manifest(dest: Path) -> dict[str, object]:
    return tomllib.loads((dest / "assignment.toml").read_text())


def checkers(dest: Path) -> list[object]:
    tests = manifest(dest)["tests"]
    assert isinstance(tests, list)
    return [t["checker"] for t in tests]


# -- default validator flags ------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "checker"),
    [
        ((), {"type": "tokens", "case_sensitive": False}),
        (("case_sensitive",), {"type": "tokens", "case_sensitive": True}),
        (("space_change_sensitive",), {"type": "exact", "case_sensitive": False}),
        (
            ("float_tolerance", "1e-6"),
            {"type": "float", "case_sensitive": False, "abs_tol": 1e-6, "rel_tol": 1e-6},
        ),
        (
            ("float_absolute_tolerance", "0.5", "case_sensitive"),
            {"type": "float", "case_sensitive": True, "abs_tol": 0.5},
        ),
        (
            ("float_relative_tolerance", "1e-4"),
            {"type": "float", "case_sensitive": False, "rel_tol": 1e-4},
        ),
    ],
)
def test_default_validator_flags_become_checkers(
    flags: tuple[str, ...], checker: dict[str, object]
) -> None:
    assert default_checker(flags) == checker


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (("float_tolerance",), "needs a tolerance"),
        (("float_tolerance", "x"), "needs a tolerance"),
        (("float_tolerance", "-1"), "needs a tolerance"),
        (("float_tolerance", "nan"), "needs a tolerance"),
        (("ignore_everything",), "unknown default-validator flag"),
    ],
)
def test_bad_flags_are_errors(flags: tuple[str, ...], needle: str) -> None:
    with pytest.raises(PackageError) as caught:
        default_checker(flags)
    assert needle in caught.value.message
    assert caught.value.key == "validator_flags"


# -- TOML -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        'say "hi"\\n',
        "tab\there\nnew line\r\x00\x1f\x7f",
        "üñíçødé ✓ 𝄞",
        "",
        1e-06,
        3,
        True,
        ["a", 1.5, ["nested"]],
        {"type": "float", "abs tol": 1e-9, "x": {"y": []}},
    ],
)
def test_toml_values_round_trip(value: object) -> None:
    assert tomllib.loads(f"key = {toml_value(value)}")["key"] == value


# -- importing -------------------------------------------------------------------------------
def test_minimal_problem_imports_as_python(tmp_path: Path) -> None:
    dest = import_kattis(problem(tmp_path), tmp_path / "out")
    data = manifest(dest)
    assert data["assignment"] == {
        "name": "add",
        "title": "Add",
        "statement": "statement.md",
        "environment": "python3",
    }
    command = data["run"]["command"]  # type: ignore[index]
    assert command[:2] == ["sh", "-c"]
    assert command[2].endswith('exec python3 "$main"\n')  # the main file found by the prelude
    assert data["limits"] == {
        "cpu_time_s": 2.0,  # provisional: import_and_check measures it
        "wall_time_s": 4.0,  # time_safety_margin 2 (legacy)
        "memory": "1024M",
        "output": "8M",
    }
    assert data["build"]["limits"] == {  # type: ignore[index]
        "cpu_time_s": 60,
        "wall_time_s": 120,
        "memory": "1024M",
    }
    tests = data["tests"]
    assert isinstance(tests, list)
    assert [(t["name"], t["visibility"], t["group"]) for t in tests] == [
        ("sample/1", "visible", "sample"),
        ("secret/1", "hidden", "secret"),
    ]
    assert (dest / "tests" / "secret" / "1.ans").read_text() == "4\n"
    statement = (dest / "statement.md").read_text()
    assert statement.startswith("# Add\n")
    assert "## Sample input 1\n\n```\n1 2\n```" in statement
    assert "Submit your Python 3 source files (`*.py`, `*.py3`), with any names" in statement
    assert "known_bad" not in data
    assert not (dest / "solution").exists()


def test_name_language_and_limits(tmp_path: Path) -> None:
    src = problem(
        tmp_path,
        "name: {en: Addition, sv: Addition}\nlimits: {time_limit: 1.5, memory: 128, output: 2}\n",
        {
            "submissions/accepted/add.py": "print(3)\n",
            "submissions/accepted/add.c": "int main(void) { return 0; }\n",
            "submissions/wrong_answer/wa.c": "int main(void) { return 1; }\n",
            "submissions/wrong_answer/wa.py": "print(0)\n",
        },
    )
    dest = import_kattis(src, tmp_path / "out", name="week-3.add", language="c")
    data = manifest(dest)
    assert data["assignment"]["name"] == "week-3.add"  # type: ignore[index]
    assert data["assignment"]["environment"] == "c"  # type: ignore[index]
    assert 'gcc -O2 -std=gnu17 -o submission.bin "$@" -lm' in data["build"]["commands"][0][2]  # type: ignore[index]
    assert data["limits"] == {
        "cpu_time_s": 1.5,
        "wall_time_s": 3.0,  # time_safety_margin 2 (legacy)
        "memory": "128M",
        "output": "2M",
    }
    assert (dest / "solution" / "add.c").read_text().startswith("int main")
    assert data["known_bad"] == [
        {
            "path": "bad/wrong_answer/wa-c",
            "expect": "wrong",
            "why": "Kattis submissions/wrong_answer/wa.c",
        }
    ]
    by_default = import_kattis(src, tmp_path / "py")  # the language of most submissions
    assert manifest(by_default)["assignment"]["environment"] == "c"  # type: ignore[index]


def test_java_runs_the_main_files_class(tmp_path: Path) -> None:
    src = problem(
        tmp_path,
        "name: Add\n",
        {"submissions/accepted/Add.java": "public class Add { void f() {} }"},
    )
    data = manifest(import_kattis(src, tmp_path / "out"))
    assert 'javac -encoding UTF-8 -d . "$@"' in data["build"]["commands"][0][2]  # type: ignore[index]
    assert '-Xmx1024m -cp . "${main%.*}"' in data["run"]["command"][2]  # type: ignore[index]
    assert "required_files" not in data["build"]  # type: ignore[operator]
    assert (tmp_path / "out" / "solution" / "Add.java").is_file()


def test_flags_from_problem_yaml_and_testdata_yaml(tmp_path: Path) -> None:
    src = problem(
        tmp_path,
        "validator_flags: float_tolerance 1e-6\n",
        {
            "data/secret/exact/testdata.yaml": "output_validator_flags: case_sensitive\n",
            "data/secret/exact/2.in": "x\n",
            "data/secret/exact/2.ans": "X\n",
        },
    )
    found = checkers(import_kattis(src, tmp_path / "out"))
    float_checker = {"type": "float", "case_sensitive": False, "abs_tol": 1e-6, "rel_tol": 1e-6}
    assert found == [float_checker, float_checker, {"type": "tokens", "case_sensitive": True}]


def test_custom_validator_layouts(tmp_path: Path) -> None:
    legacy = problem(
        tmp_path / "a",
        "validation: custom\nvalidator_flags: [strict]\n",
        {
            "output_validators/cmp/cmp.cpp": "int main() { return 42; }\n",
            "output_validators/cmp/util.h": "// helper\n",
        },
    )
    dest = import_kattis(legacy, tmp_path / "a-out")
    assert checkers(dest)[0] == {
        "type": "custom",
        "program": "checkers/cmp/cmp.cpp",
        "args": ["strict"],
    }
    assert (dest / "checkers" / "cmp" / "util.h").is_file()
    single_file = problem(
        tmp_path / "b",
        "validation: custom\n",
        {"output_validators/check.py": "raise SystemExit(42)\n"},
    )
    assert checkers(import_kattis(single_file, tmp_path / "b-out"))[0] == {
        "type": "custom",
        "program": "checkers/check.py",
        "args": [],
    }
    new_layout = problem(tmp_path / "c", "name: X\n", {"output_validator/validate.py": ""})
    assert checkers(import_kattis(new_layout, tmp_path / "c-out"))[0]["program"] == (  # type: ignore[index]
        "checkers/output_validator/validate.py"
    )


def test_statement_prefers_markdown_and_english(tmp_path: Path) -> None:
    src = problem(
        tmp_path,
        "{}\n",
        {
            "problem_statement/problem.sv.md": "Hej\n",
            "problem_statement/problem.en.md": "Hello\n",
            "problem_statement/problem.en.tex": "\\problemname{TeX title}\n",
        },
    )
    dest = import_kattis(src, tmp_path / "out")
    assert "Hello" in (dest / "statement.md").read_text()
    assert manifest(dest)["assignment"]["title"] == "add"  # type: ignore[index]
    tex_only = problem(
        tmp_path / "t", "{}\n", {"problem_statement/problem.tex": "\\problemname{Sums}\n"}
    )
    dest = import_kattis(tex_only, tmp_path / "t-out")
    assert manifest(dest)["assignment"]["title"] == "Sums"  # type: ignore[index]
    assert "```latex\n\\problemname{Sums}\n```" in (dest / "statement.md").read_text()


@pytest.mark.parametrize(
    ("yaml_text", "extra", "needle"),
    [
        ("type: multi-pass\n", {}, "multi-pass problems cannot be imported"),
        ("validation: custom\n", {}, "no output validator"),
        ("validator_flags: bogus\n", {}, "unknown default-validator flag 'bogus'"),
        ("name: [unclosed\n", {}, "not valid YAML"),
        ("- a list\n", {}, "must be a mapping"),
        ("limits: {time_limit: fast}\n", {}, "not a number"),
        ("{}\n", {"data__secret__2.in": "1\n"}, "data/secret/2.ans is missing"),
        (
            "validation: custom\n",
            {"output_validators__a.py": "", "output_validators__b.py": ""},
            "more than one output validator",
        ),
        (
            "validation: custom\n",
            {"output_validators__v__build": "", "output_validators__v__v.py": ""},
            "build/run scripts are not supported",
        ),
        (
            "validation: custom\n",
            {"output_validators__v__v.rs": ""},
            "must be one .py, .c, .cc or .cpp file",
        ),
    ],
)
def test_problems_that_cannot_be_imported(
    tmp_path: Path, yaml_text: str, extra: dict[str, str], needle: str
) -> None:
    src = problem(tmp_path, yaml_text, {k.replace("__", "/"): v for k, v in extra.items()})
    with pytest.raises(PackageError) as caught:
        import_kattis(src, tmp_path / "out")
    assert needle in caught.value.message
    assert not (tmp_path / "out").exists()


def test_no_problem_yaml_or_no_data(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"no problem\.yaml"):
        import_kattis(tmp_path, tmp_path / "out")
    write(tmp_path / "empty", {"problem.yaml": "name: E\n"})
    with pytest.raises(PackageError, match="no test data"):
        import_kattis(tmp_path / "empty", tmp_path / "out")


def test_data_linked_from_outside_is_refused(tmp_path: Path) -> None:
    src = problem(tmp_path)
    (tmp_path / "secret.txt").write_text("host file\n")
    (src / "data" / "secret" / "1.ans").unlink()
    (src / "data" / "secret" / "1.ans").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(PackageError, match="leads outside the problem directory"):
        import_kattis(src, tmp_path / "out")


def test_existing_destination_needs_force_and_keeps_other_files(tmp_path: Path) -> None:
    src = problem(tmp_path)
    dest = tmp_path / "out"
    write(dest, {"notes.txt": "mine", "tests/stale.in": "old"})
    with pytest.raises(PackageError, match="is not empty") as caught:
        import_kattis(src, dest)
    assert "--force" in (caught.value.fix or "")
    import_kattis(src, dest, force=True)
    assert (dest / "notes.txt").read_text() == "mine"
    assert not (dest / "tests" / "stale.in").exists()
    with load_package(dest) as package:
        assert [t.name for t in package.spec.tests] == ["sample/1", "secret/1"]


def test_unknown_language_and_bad_name(tmp_path: Path) -> None:
    src = problem(tmp_path)
    with pytest.raises(PackageError, match="unknown language 'cobol'"):
        import_kattis(src, tmp_path / "out", language="cobol")
    with pytest.raises(PackageError, match="cannot make an assignment name"):
        import_kattis(src, tmp_path / "out", name="!!!")
