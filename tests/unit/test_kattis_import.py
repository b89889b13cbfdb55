"""Kattis import without a sandbox: flags, layout, errors and the TOML it writes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.grading.kattis import import_kattis, toml_value, write_package
from assay.grading.kattis_problem import default_checker, read_problem
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
        ("type: scoring\nvalidation: custom score\n", {}, "validators that give scores"),
        ("type: scoring\ngrading: {objective: min}\n", {}, "only objective: max"),
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


# -- submissions, scoring groups, limits (issue 16) -------------------------------------------
def test_every_category_becomes_a_known_entry(tmp_path: Path) -> None:
    src = problem(
        tmp_path,
        "name: Add\n",
        {
            "submissions/accepted/a.py": "print(3)\n",
            "submissions/accepted/two-files/main.py": "import helper\n",
            "submissions/accepted/two-files/helper.py": "\n",
            "submissions/partially_accepted/p.py": "print(3)\n",
            "submissions/wrong_answer/wa.py": "print(0)\n",
            "submissions/time_limit_exceeded/tle.py3": "while True: pass\n",
            "submissions/run_time_error/rte.py": "1/0\n",
            "submissions/memory_limit_exceeded/mle.py": "x = [0] * 10**10\n",
            "submissions/output_limit/ole.py": "while True: print(1)\n",
            "submissions/compiler_error/ce.py": "def (\n",
            # DOMjudge's comment decides over the directory
            "submissions/wrong_answer/dj.py": "# @EXPECTED_RESULTS@: TIMELIMIT\n",
            "submissions/wrong_answer/either.py": "# @EXPECTED_RESULTS@: WRONG-ANSWER, TIMELIMIT\n",
            "submissions/accepted/maybe.py": "# @EXPECTED_RESULTS@: CORRECT, TIMELIMIT\n",
            "submissions/wrong_answer/wa.cpp": "int main() {}\n",
            "submissions/wrong_answer/README.md": "notes\n",
            "submissions/wrong_answer/x.cobol": "\n",
            "submissions/slow/s.py": "\n",
        },
    )
    written = write_package(src, tmp_path / "out")
    data = manifest(written.path)
    assert written.language.environment == "python3"
    assert (written.path / "solution" / "a.py").is_file()
    assert data["known_good"] == [
        {"path": "good/accepted/two-files", "why": "Kattis submissions/accepted/two-files"}
    ]
    assert (written.path / "good/accepted/two-files/helper.py").is_file()
    expects = {e["path"]: e.get("expect") for e in data["known_bad"]}  # type: ignore[union-attr]
    assert expects == {
        "bad/compiler_error/ce-py": "build_failed",
        "bad/memory_limit_exceeded/mle-py": "memory_limit",
        "bad/output_limit/ole-py": "output_limit",
        "bad/partially_accepted/p-py": None,  # only: not full marks
        "bad/run_time_error/rte-py": "crashed",
        "bad/time_limit_exceeded/tle-py3": "timeout",
        "bad/wrong_answer/dj-py": "timeout",
        "bad/wrong_answer/either-py": None,
        "bad/wrong_answer/wa-py": "wrong",
    }
    notes = "\n".join(written.notes)
    assert "submissions/slow: not a known category" in notes
    assert "submissions/accepted/maybe.py: @EXPECTED_RESULTS@ allows CORRECT and more" in notes
    assert "submissions/wrong_answer/x.cobol: no language" in notes
    assert "README.md" not in notes
    assert "submissions/wrong_answer/wa.cpp: cpp, not python3" in notes
    assert written.sources["bad/wrong_answer/dj-py"] == "submissions/wrong_answer/dj.py"


@pytest.mark.parametrize(
    ("files", "environment"),
    [
        ({"a.kt": ""}, "kotlin"),
        ({"a.ts": ""}, "typescript"),
        ({"a.R": ""}, "r"),
        ({"a.hs": ""}, "haskell"),
        ({"a.sh": ""}, "bash"),
        ({"a.go": ""}, "go"),
        ({"a.rs": ""}, "rust"),
        ({"a.rb": ""}, "ruby"),
        ({"a.js": ""}, "javascript"),
        ({"a.cc": ""}, "cpp"),
        ({"d/x.c": "", "d/y.c": "", "d/z.cpp": ""}, "c"),  # most files
        ({"d/x.c": "", "d/z.cpp": ""}, "cpp"),  # a tie: Kattis' priority
    ],
)
def test_the_language_comes_from_the_extensions(
    tmp_path: Path, files: dict[str, str], environment: str
) -> None:
    extra = {f"submissions/accepted/{k}": v for k, v in files.items()}
    written = write_package(problem(tmp_path, "name: Add\n", extra), tmp_path / "out")
    assert written.language.environment == environment
    assert manifest(written.path)["assignment"]["environment"] == environment  # type: ignore[index]


def scoring_problem(tmp_path: Path, extra: dict[str, str]) -> Path:
    files = {
        "data/testdata.yaml": "on_reject: continue\n",
        "data/sample/testdata.yaml": "accept_score: 0\n",
        "data/secret/g1/testdata.yaml": "accept_score: 20\ngrader_flags: min\n",
        "data/secret/g2/testdata.yaml": "accept_score: 10\non_reject: break\n",
    }
    for group in ("g1", "g2"):
        for case in ("1", "2", "3"):
            files[f"data/secret/{group}/{case}.in"] = "1 1\n"
            files[f"data/secret/{group}/{case}.ans"] = "2\n"
    files.update(extra)
    return problem(tmp_path, "name: Add\ntype: scoring\n", files)


def test_scoring_groups_become_points_and_dependencies(tmp_path: Path) -> None:
    src = scoring_problem(tmp_path, {"data/secret/1.in": "0 0\n", "data/secret/1.ans": "0\n"})
    tests = manifest(import_kattis(src, tmp_path / "out"))["tests"]
    found = {t["name"]: (t["points"], t.get("depends", [])) for t in tests}  # type: ignore[union-attr]
    assert found == {
        "sample/1": (0.0, []),
        "secret/1": (1.0, []),  # directly in secret: the default accept_score
        # min: all or nothing, the points on the last case, which needs the others
        "secret/g1/1": (0.0, []),
        "secret/g1/2": (0.0, []),
        "secret/g1/3": (20.0, ["secret/g1/1", "secret/g1/2"]),
        # sum with on_reject: break: a case counts only while the ones before it pass
        "secret/g2/1": (10.0, []),
        "secret/g2/2": (10.0, ["secret/g2/1"]),
        "secret/g2/3": (10.0, ["secret/g2/1", "secret/g2/2"]),
    }
    with load_package(tmp_path / "out") as package:
        assert package.max_score == 51


def test_a_pass_fail_problem_gives_a_point_a_test_without_dependencies(tmp_path: Path) -> None:
    tests = manifest(import_kattis(problem(tmp_path), tmp_path / "out"))["tests"]
    assert all("points" not in t and "depends" not in t for t in tests)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"data/secret/g2/testdata.yaml": "grader_flags: avg\n"}, "grader_flags 'avg'"),
        ({"data/secret/g2/testdata.yaml": "grading: custom\n"}, "custom graders"),
        ({"data/secret/g2/testdata.yaml": "reject_score: 1\n"}, "reject_score other than 0"),
        ({"data/secret/testdata.yaml": "grader_flags: min\n"}, "min over groups of groups"),
    ],
)
def test_gradings_we_cannot_express_are_errors(
    tmp_path: Path, extra: dict[str, str], needle: str
) -> None:
    with pytest.raises(PackageError) as caught:
        import_kattis(scoring_problem(tmp_path, extra), tmp_path / "out")
    assert needle in caught.value.message


@pytest.mark.parametrize(
    ("yaml_text", "extra", "times"),
    [
        ("name: A\n", {}, (0.05, 1.0, 2.0)),  # legacy: x5, at least 1 s; killed at x2
        ("name: A\n", {}, (0.31, 2.0, 4.0)),  # 1.55 rounded up to the second
        ("limits: {time_multiplier: 3, time_safety_margin: 1.5}\n", {}, (0.5, 2.0, 3.0)),
        (
            "problem_format_version: 2023-07-draft\n"
            "limits: {time_multipliers: {ac_to_time_limit: 4}, time_resolution: 0.5}\n",
            {},
            (0.3, 1.5, 2.5),
        ),
        ("problem_format_version: 2023-07-draft\n", {}, (0.9, 2.0, 3.0)),  # x2, margin 1.5
        ("name: A\n", {".timelimit": "3\n"}, (9.0, 3.0, 6.0)),  # fixed: not measured
        ("name: A\n", {"domjudge-problem.ini": "name='B'\ntimelimit='4'\n"}, (9.0, 4.0, 8.0)),
    ],
)
def test_the_time_limit_follows_problemtools(
    tmp_path: Path, yaml_text: str, extra: dict[str, str], times: tuple[float, float, float]
) -> None:
    slowest, limit, wall = times  # the slowest accepted run, the limit, the wall limit
    rule = read_problem(problem(tmp_path, yaml_text, extra)).time
    assert rule.time_limit(slowest) == limit
    assert rule.limits(limit)["wall_time_s"] == wall


def test_a_domjudge_package_without_problem_yaml(tmp_path: Path) -> None:
    src = problem(tmp_path, "", {"domjudge-problem.ini": "name = 'Sums'\ntimelimit = 2\n"})
    (src / "problem.yaml").unlink()
    data = manifest(import_kattis(src, tmp_path / "out"))
    assert data["assignment"]["title"] == "Sums"  # type: ignore[index]
    assert data["limits"]["cpu_time_s"] == 2.0  # type: ignore[index]


def test_an_interactive_problem_uses_the_interactive_kind(tmp_path: Path) -> None:
    src = problem(
        tmp_path,
        "validation: custom interactive\nvalidator_flags: strict\n",
        {
            "output_validators/judge/judge.py": "raise SystemExit(42)\n",
            "data/sample/1.interaction": ">1 2\n<3\n",
        },
    )
    dest = import_kattis(src, tmp_path / "out")
    first = manifest(dest)["tests"][0]  # type: ignore[index]
    assert first == {
        "name": "sample/1",
        "group": "sample",
        "visibility": "visible",
        "kind": "interactive",
        "judge": "checkers/judge/judge.py",
        "judge_args": ["strict"],
        "input_file": "tests/sample/1.in",
        "answer_file": "tests/sample/1.ans",
        "pair_wall_time_s": 30.0,
        "sample_interaction": "tests/sample/1.interaction",
    }
    assert "## Sample interaction 1\n\n```\n>1 2\n<3\n```" in (dest / "statement.md").read_text()
