"""The grading core above the sandbox: manifest validation, hooks, engine flow, views.

The engine runs on ``FakeBackend`` here (scripted runs); the real sandbox is
exercised by tests/integration and tests/acceptance.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import PackageError, SandboxError
from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package, package_from_spec
from assay.grading.outcome import BuildStatus, TestStatus, status_of_run
from assay.grading.package import parse_manifest
from assay.grading.report import ReportStatus
from assay.sandbox.fake import FakeBackend, FakeWorkspace, fake_result
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import RunSpec

MINIMAL = """
[assignment]
name = "demo"
environment = "python3"
"""


def write_package(root: Path, manifest: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "assignment.toml").write_text(manifest)
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# -- manifest validation ------------------------------------------------------


def test_a_spec_built_in_memory_is_validated_like_a_manifest(tmp_path: Path) -> None:
    manifest = """
[assignment]
name = "demo"
environment = "python3"

[[tests]]
name = "calls"
kind = "asserts"
asserts = ["assert f(1) == 2"]
"""
    loaded = load_package(write_package(tmp_path / "toml", manifest))
    built = package_from_spec(parse_manifest(manifest), tmp_path)
    assert built.spec == loaded.spec and built.options == loaded.options
    assert built.root == tmp_path.resolve() and built.environment == loaded.environment
    bad = parse_manifest(manifest.replace("assert f(1) == 2", "f(1) ="))
    with pytest.raises(PackageError) as caught:
        package_from_spec(bad, tmp_path)
    assert caught.value.key is not None and caught.value.key.startswith("tests[0].asserts")


def test_invalid_toml_names_the_file_and_the_fix() -> None:
    with pytest.raises(PackageError) as info:
        parse_manifest("[assignment\nname = 1")
    assert info.value.file == "assignment.toml"
    assert "not valid TOML" in str(info.value)
    assert "fix:" in str(info.value)


def test_unknown_key_is_named_with_a_fix() -> None:
    with pytest.raises(PackageError) as info:
        parse_manifest(MINIMAL + "\n[build]\ncomands = ['make']\n")
    assert info.value.key == "build.comands"
    assert "remove the key or check its spelling" in str(info.value)


def test_bad_name_and_points_are_all_listed() -> None:
    text = """
[assignment]
name = "Bad Name"
[[tests]]
name = "t"
points = -1
"""
    with pytest.raises(PackageError) as info:
        parse_manifest(text)
    message = str(info.value)
    assert "2 problems" in message
    assert "assignment.name" in message
    assert "tests[0].points" in message


def test_duplicate_test_names_are_refused() -> None:
    text = MINIMAL + '[[tests]]\nname = "a"\nkind = "script"\n[[tests]]\nname = "a"\n'
    with pytest.raises(PackageError, match="two tests are named 'a'"):
        parse_manifest(text)


def test_commands_accept_strings_and_argv_lists() -> None:
    spec = parse_manifest(MINIMAL + "[build]\ncommands = ['make -j2', ['gcc', 'a b.c']]\n")
    assert spec.build.commands == (("make", "-j2"), ("gcc", "a b.c"))
    single = parse_manifest(MINIMAL + "[build]\ncommands = 'make all'\n")
    assert single.build.commands == (("make", "all"),)


def test_sizes_accept_units() -> None:
    spec = parse_manifest(MINIMAL + "[limits]\nmemory = '64M'\noutput = 4096\n")
    assert spec.limits.memory == 64 * 1024 * 1024
    assert spec.limits.output == 4096


def test_unknown_kind_lists_the_kinds(tmp_path: Path) -> None:
    root = write_package(tmp_path / "p", MINIMAL + '[[tests]]\nname = "t"\nkind = "magic"\n')
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.key == "tests[0].kind"
    assert "io" in str(info.value)
    assert "python-unittest" in str(info.value)


def test_unknown_environment(tmp_path: Path) -> None:
    root = write_package(tmp_path / "p", '[assignment]\nname = "x"\nenvironment = "cobol"\n')
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.key == "assignment.environment"


def test_limits_too_small_are_refused_at_load(tmp_path: Path) -> None:
    root = write_package(tmp_path / "p", MINIMAL + "[limits]\nmemory = '1M'\n")
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.key == "limits"


def test_missing_manifest_and_known_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"no assignment\.toml"):
        load_package(tmp_path)
    root = write_package(tmp_path / "p", MINIMAL + '[[known_bad]]\npath = "bad/none"\n')
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.key == "known_bad[0].path"


def test_package_paths_cannot_escape(tmp_path: Path) -> None:
    root = write_package(tmp_path / "p", MINIMAL)
    (tmp_path / "secret").write_text("x")
    (root / "link").symlink_to(tmp_path / "secret")
    with load_package(root) as package:
        with pytest.raises(PackageError, match="inside the package"):
            package.path("../secret")
        with pytest.raises(PackageError, match="outside the package"):
            package.path("link")
        with pytest.raises(PackageError, match="does not exist"):
            package.path("tests/none.in")


# -- hooks ----------------------------------------------------------------------

HOOKS = """
from assay.grading.hooks import build, run_student, test


@build
def compile_it(result):
    run = run_student(["build-it"])
    result.passed = run.ok
    result.log = "built\\n"


@test("says hello", points=2)
def hello(result):
    run = run_student(["greet"])
    result.passed = run.stdout == b"hello\\n"
    result.message = "greeted" if result.passed else "no greeting"


@test("half credit", points=4, visibility="hidden")
def half(result):
    result.passed = False
    result.score = 2


@test("broken hook", points=1)
def broken(result):
    raise RuntimeError("instructor bug")
"""


def scripted(spec: RunSpec, workspace: FakeWorkspace) -> RunResult:
    if spec.argv == ("greet",):
        return fake_result(b"hello\n")
    if spec.argv == ("explode",):
        raise SandboxError("the sandbox died")
    if spec.argv[0] == "false":
        return fake_result(b"", b"main.c:3:5: error: expected ';'\n", exit_code=1)
    return fake_result()


def test_hook_plan_is_read_without_running_grader_py(tmp_path: Path) -> None:
    # grader.py's hooks run in a sandbox of their own (tests/integration/test_hooks.py);
    # loading a package only reads their plan, so a grader.py that fails on import loads
    root = write_package(tmp_path / "p", MINIMAL, {"grader.py": "import no_such_module\n" + HOOKS})
    with load_package(root) as package:
        assert package.max_score == 7
        assert package.hooks is not None
        assert package.hooks.builds == 1
        assert [t.name for t in package.hooks.tests] == ["says hello", "half credit", "broken hook"]


def test_hook_syntax_error_names_grader_py(tmp_path: Path) -> None:
    root = write_package(tmp_path / "p", MINIMAL, {"grader.py": "def broken(:\n"})
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.file == "grader.py"
    assert "cannot be read as Python" in str(info.value)


def test_build_failure_skips_every_test_and_shows_the_reason_once(tmp_path: Path) -> None:
    manifest = MINIMAL.replace("python3", "c") + "[build]\ncommands = [['false']]\n"
    root = write_package(tmp_path / "p", manifest, {"grader.py": HOOKS})
    with load_package(root) as package:
        report = grade(
            package, FileSet.from_mapping({"main.c": "x"}), backend=FakeBackend(scripted)
        )
    assert report.build.status is BuildStatus.FAILED
    assert report.score == 0
    assert report.status is ReportStatus.GRADED  # the student's failure, recorded
    assert all(t.status is TestStatus.SKIPPED and t.score == 0 for t in report.tests)
    assert all(t.message == "not run: the build failed" for t in report.tests)
    [diagnostic] = report.build.diagnostics
    assert (diagnostic.file, diagnostic.line, diagnostic.column) == ("main.c", 3, 5)


def test_missing_required_file_fails_the_build(tmp_path: Path) -> None:
    manifest = MINIMAL + "[build]\nrequired_files = ['solution.py']\n"
    root = write_package(tmp_path / "p", manifest)
    with load_package(root) as package:
        report = grade(package, FileSet.from_mapping({"other.py": "x"}), backend=FakeBackend())
    assert report.build.status is BuildStatus.FAILED
    assert "solution.py" in report.build.log


def test_infrastructure_failure_is_an_error_report_not_a_zero(tmp_path: Path) -> None:
    manifest = MINIMAL + "[build]\ncommands = [['explode']]\n"
    root = write_package(tmp_path / "p", manifest)
    with load_package(root) as package:
        report = grade(package, FileSet.from_mapping({"a.py": "x"}), backend=FakeBackend(scripted))
    assert report.status is ReportStatus.ERROR
    assert report.error is not None
    assert "sandbox died" in (report.staff_error or "")
    assert report.student_view().staff_error is None


def test_support_files_are_root_owned_and_win(tmp_path: Path) -> None:
    root = write_package(tmp_path / "p", MINIMAL, {"support/Makefile": "all:\n"})
    backend = FakeBackend()
    with load_package(root) as package:
        grade(package, FileSet.from_mapping({"Makefile": "evil", "a.c": "x"}), backend=backend)
    workspace = backend.sessions[0].workspace
    makefile = workspace.entries["Makefile"]
    assert makefile.data == b"all:\n"
    assert makefile.owner_root
    assert not makefile.mode & 0o222
    student_file = workspace.entries["a.c"]
    assert not student_file.owner_root


def test_timeout_termination_maps_to_timeout() -> None:
    result = fake_result(termination=Termination.CPU_TIME_LIMIT, exit_code=None)
    assert status_of_run(result) is TestStatus.TIMEOUT
    assert status_of_run(fake_result(exit_code=1)) is None
