"""The python-unittest / pytest kinds without a sandbox: load checks, the result channel,
and how outcomes are judged (FakeBackend plays the spec runner, honestly or not)."""

from __future__ import annotations

import json
import os
import secrets
import sys
import textwrap
import types
import unittest
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assay.errors import PackageError
from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.harness.spec_runner import (
    GENERATOR,
    MAX_LINE_BYTES,
    MODP_PRIME,
    Runner,
    line_mac,
    shared_key,
)
from assay.grading.kinds.pyspec_channel import HostKey, read_channel
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import GradeReport
from assay.sandbox.fake import FakeBackend, FakeWorkspace, fake_result
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import RunSpec

SPEC = textwrap.dedent(
    """
    import unittest
    from solution import add

    class TestAdd(unittest.TestCase):
        def test_small(self):
            self.assertEqual(add(1, 2), 3)

        def test_zero(self):
            self.assertEqual(add(0, 0), 0)

        def test_loop(self):
            for i in range(3):
                self.assertEqual(add(i, 0), i)
    """
)
CORRECT = "def add(a, b):\n    return a + b\n"
ALWAYS_EQUAL = """
class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return True


def add(a, b):
    return Anything()
"""


def _package(root: Path, options: str = "", spec: str = SPEC) -> Path:
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "tests" / "test_add.py").write_text(spec)
    (root / "assignment.toml").write_text(
        textwrap.dedent(
            """
            [assignment]
            name = "pyspec"
            [[tests]]
            name = "unit"
            kind = "python-unittest"
            points = 3
            spec = "tests/test_add.py"
            """
        )
        + options
    )
    return root


# -- a fake spec runner: P's side of the channel ---------------------------------------------
Records = dict[str, dict[str, Any]]


def _stream(plan: dict[str, Any], records: Records, *, done: bool = True) -> bytes:
    secret = secrets.randbits(256)
    key = shared_key(int(plan["host_public"], 16), secret)
    lines = [json.dumps({"hello": format(pow(GENERATOR, secret, MODP_PRIME), "x")}).encode()]
    payloads = [{"id": i, **r} for i, r in records.items()] + ([{"done": True}] if done else [])
    for seq, record in enumerate(payloads):
        payload = json.dumps(record).encode()
        lines.append(payload + b"\t" + line_mac(key, seq, payload).encode())
    return b"\n".join(lines) + b"\n"


def _run_in_process(source: str, solution: str, plan: dict[str, Any]) -> Records:
    """Run the transformed spec here, as the runner would, against ``solution``."""
    module = types.ModuleType("solution")
    exec(compile(solution, "solution.py", "exec"), module.__dict__)  # noqa: S102
    spec = types.ModuleType("spec")
    saved = sys.modules.get("solution")
    sys.modules["solution"] = module
    try:
        exec(compile(source, "spec.py", "exec"), spec.__dict__)  # noqa: S102
    finally:
        if saved is None:
            del sys.modules["solution"]
        else:
            sys.modules["solution"] = saved
    records: Records = {}
    for test_id in plan["ids"]:
        class_name, _, method = test_id.partition(".")
        result = unittest.TestResult()
        getattr(spec, class_name)(method).run(result)
        if result.wasSuccessful():
            records[test_id] = {"outcome": "passed", "assertion": False, "message": ""}
        else:
            message = (result.failures or result.errors)[0][1].strip().splitlines()[-1]
            outcome = "failed" if result.failures else "error"
            records[test_id] = {"outcome": outcome, "assertion": bool(result.failures),
                                "message": message}  # fmt: skip
    return records


Adjust = Callable[[Records, dict[str, Any]], None]


def _fake_runner(
    solution: str,
    adjust: Adjust | None = None,
    *,
    termination: Termination = Termination.EXITED,
    extra_stdout: bytes = b"",
    stderr: bytes = b"",
) -> tuple[FakeBackend, list[tuple[RunSpec, FakeWorkspace]]]:
    seen: list[tuple[RunSpec, FakeWorkspace]] = []

    def script(spec: RunSpec, workspace: FakeWorkspace) -> RunResult:
        seen.append((spec, workspace))
        harness = spec.argv[-1].removeprefix("/work/")
        plan = json.loads(workspace.read(f"{harness}/plan.json"))
        source = workspace.read(f"{harness}/{plan['spec']}").decode()
        records = _run_in_process(source, solution, plan)
        if adjust is not None:
            adjust(records, plan)
        stdout = _stream(plan, records) + extra_stdout
        return fake_result(stdout, stderr, termination=termination)

    return FakeBackend(script), seen


def _grade(tmp_path: Path, backend: FakeBackend, options: str = "") -> GradeReport:
    with load_package(_package(tmp_path / "pkg", options)) as package:
        return grade(package, FileSet.from_mapping({"solution.py": CORRECT}), backend=backend)


def _statuses(report: GradeReport) -> dict[str, TestStatus]:
    return {t.name.removeprefix("unit :: "): t.status for t in report.tests}


# -- judging -----------------------------------------------------------------------------------
def test_a_correct_solution_passes_every_test_with_an_equal_share(tmp_path: Path) -> None:
    backend, seen = _fake_runner(CORRECT)
    report = _grade(tmp_path, backend)
    assert [t.name for t in report.tests] == [
        "unit :: test_small",
        "unit :: test_zero",
        "unit :: test_loop",
    ]
    assert report.score == 3.0
    assert all(t.max_score == 1.0 and t.status is TestStatus.PASSED for t in report.tests)
    spec, workspace = seen[0]
    assert spec.argv[:2] == ("python3", "-I")
    harness = spec.argv[-1].removeprefix("/work/")
    plan = json.loads(workspace.read(f"{harness}/plan.json"))
    assert set(plan) == {
        "mode", "spec", "module_dir", "ids", "timeout_s", "load_timeout_s", "host_public"
    }  # fmt: skip
    assert len(plan["ids"]) == 5  # three tests, two complements: which is which stays here
    for name in ("plan.json", "spec_runner.py", "pytest.ini", "spec/test_add.py"):
        entry = workspace.entries[f"{harness}/{name}"]
        assert entry.owner_root
        assert entry.mode == 0o444
    assert spec.limits.wall_time_s >= 5 * (5.0 + 0.5)


def test_passing_a_test_and_its_complement_is_flagged_and_scores_zero(tmp_path: Path) -> None:
    backend, _ = _fake_runner(ALWAYS_EQUAL)
    report = _grade(tmp_path, backend)
    assert report.score == 1.0  # test_loop has no complement to catch it
    assert report.tampered
    rows = {t.name: t for t in report.tests}
    small = rows["unit :: test_small"]
    assert small.status is TestStatus.FAILED
    assert small.tampered
    assert small.message == "failed"
    assert "tampering" in (small.staff_detail or "")
    student = report.student_view()
    assert student.tampered is None
    assert all(t.tampered is None and t.staff_detail is None for t in student.tests)


def test_a_complement_that_does_not_fail_by_assertion_leaves_the_test_unconfirmed(
    tmp_path: Path,
) -> None:
    def complement_errors(records: Records, plan: dict[str, Any]) -> None:
        for test_id, record in records.items():
            if record["outcome"] == "failed":
                records[test_id] = {"outcome": "error", "assertion": False, "message": "boom"}

    backend, _ = _fake_runner(CORRECT, complement_errors)
    report = _grade(tmp_path, backend)
    assert report.score == 1.0
    assert not report.tampered
    small = next(t for t in report.tests if t.name.endswith("test_small"))
    assert "could not be confirmed" in small.message
    assert "boom" in (small.staff_detail or "")


@pytest.mark.parametrize(
    ("record", "termination", "status", "text"),
    [
        ({"outcome": "timeout", "message": "took longer than 5 s"}, Termination.EXITED,
         TestStatus.TIMEOUT, "took longer"),
        ({"outcome": "crashed", "signal": 11, "message": "killed by signal 11"},
         Termination.EXITED, TestStatus.CRASHED, "signal 11"),
        ({"outcome": "crashed", "signal": 9, "message": "killed by signal 9"},
         Termination.MEMORY_LIMIT, TestStatus.MEMORY_LIMIT, "signal 9"),
        ({"outcome": "skipped", "message": "skipped: no"}, Termination.EXITED,
         TestStatus.FAILED, "counts as failed"),
        ({"outcome": "error", "message": "ZeroDivisionError: division by zero"},
         Termination.EXITED, TestStatus.FAILED, "ZeroDivisionError"),
    ],
)  # fmt: skip
def test_runner_outcomes_map_to_statuses(
    tmp_path: Path,
    record: dict[str, Any],
    termination: Termination,
    status: TestStatus,
    text: str,
) -> None:
    def every_test(records: Records, plan: dict[str, Any]) -> None:
        for test_id in records:
            records[test_id] = {"assertion": False, **record}

    backend, _ = _fake_runner(CORRECT, every_test, termination=termination)
    report = _grade(tmp_path, backend)
    assert report.score == 0.0
    assert set(_statuses(report).values()) == {status}
    assert all(text in t.message for t in report.tests)


@pytest.mark.parametrize(
    ("termination", "status"),
    [(Termination.WALL_TIME_LIMIT, TestStatus.TIMEOUT), (Termination.EXITED, TestStatus.FAILED)],
)
def test_missing_results_fail_with_how_the_run_ended(
    tmp_path: Path, termination: Termination, status: TestStatus
) -> None:
    def lose_all(records: Records, plan: dict[str, Any]) -> None:
        records.clear()

    backend, _ = _fake_runner(CORRECT, lose_all, termination=termination)
    report = _grade(tmp_path, backend)
    assert report.score == 0.0
    assert set(_statuses(report).values()) == {status}
    assert all("no result" in t.message for t in report.tests)


def test_a_forged_line_zeroes_the_entry_and_flags_it(tmp_path: Path) -> None:
    fake = json.dumps({"id": "x", "outcome": "passed"}).encode() + b"\t" + b"0" * 64 + b"\n"
    backend, _ = _fake_runner(CORRECT, extra_stdout=fake)
    report = _grade(tmp_path, backend)
    assert report.score == 0.0
    assert report.tampered
    assert all("forged" in (t.staff_detail or "") for t in report.tests)


def test_the_students_stderr_is_the_output_of_each_row(tmp_path: Path) -> None:
    backend, _ = _fake_runner(CORRECT, stderr=b"debug print\n" + b"x" * 10_000)
    report = _grade(tmp_path, backend)
    assert report.score == 3.0
    assert all(t.output.endswith("x" * 100) and len(t.output) <= 4096 for t in report.tests)


def test_without_anti_tamper_only_the_tests_run_under_their_names(tmp_path: Path) -> None:
    backend, seen = _fake_runner(CORRECT)
    report = _grade(tmp_path, backend, "anti_tamper = false\n")
    assert report.score == 3.0
    spec, workspace = seen[0]
    plan = json.loads(workspace.read(spec.argv[-1].removeprefix("/work/") + "/plan.json"))
    assert plan["ids"] == ["TestAdd.test_small", "TestAdd.test_zero", "TestAdd.test_loop"]


def test_a_failed_build_gives_one_row_per_spec_test(tmp_path: Path) -> None:
    root = _package(tmp_path / "pkg")
    manifest = (root / "assignment.toml").read_text()
    manifest = manifest.replace("[[tests]]", "[build]\nrequired_files = ['solution.py']\n[[tests]]")
    (root / "assignment.toml").write_text(manifest)
    with load_package(root) as package:
        report = grade(package, FileSet.from_mapping({"other.py": "x"}), backend=FakeBackend())
    assert [t.name for t in report.tests] == [
        "unit :: test_small",
        "unit :: test_zero",
        "unit :: test_loop",
    ]
    assert all(t.max_score == 1.0 and "not run" in t.message for t in report.tests)


# -- the channel itself --------------------------------------------------------------------------
def _genuine(records: list[dict[str, Any]], key: HostKey, *, forged_at: int | None = None) -> bytes:
    read_fd, write_fd = os.pipe()
    plan = {"host_public": key.public_hex}
    runner = Runner(plan, write_fd, -1, -1, 0)
    runner.handshake()
    for index, record in enumerate(records):
        if index == forged_at:
            os.write(write_fd, json.dumps({"id": "a", "outcome": "passed"}).encode() + b"\n")
        runner.emit(dict(record))
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stream:
        return stream.read()


def test_the_runners_lines_verify_and_a_forged_one_does_not() -> None:
    key = HostKey.new()
    records = [
        {"id": "a", "outcome": "failed", "assertion": True, "message": "AssertionError: 1 != 2"},
        {"id": "b", "outcome": "passed", "assertion": False, "message": "", "wall_s": 0.01},
        {"done": True},
    ]
    channel = read_channel(_genuine(records, key, forged_at=1), key, {"a", "b"})
    assert channel.forged == 1
    assert channel.done
    assert channel.records["a"].outcome == "failed"
    assert channel.records["a"].assertion
    assert channel.records["b"].outcome == "passed"
    clean = read_channel(_genuine(records, key), key, {"a", "b"})
    assert clean.forged == 0
    assert clean.notes == []


def test_another_runs_key_verifies_nothing() -> None:
    stream = _genuine([{"id": "a", "outcome": "passed"}, {"done": True}], HostKey.new())
    channel = read_channel(stream, HostKey.new(), {"a"})
    assert channel.forged == 2
    assert channel.records == {}


def test_replayed_and_reordered_lines_fail_the_sequence_check() -> None:
    key = HostKey.new()
    stream = _genuine([{"id": "a", "outcome": "passed"}, {"id": "b", "outcome": "passed"}], key)
    hello, first, second, _ = stream.split(b"\n")
    channel = read_channel(b"\n".join([hello, second, first, first]) + b"\n", key, {"a", "b"})
    assert channel.records.keys() == {"a"}
    assert channel.forged == 2


def test_channel_oddities_become_notes() -> None:
    key = HostKey.new()
    assert "nothing" in read_channel(b"", key, {"a"}).notes[0]
    assert "handshake" in read_channel(b'{"hello": "1"}\n', key, {"a"}).notes[0]
    twice = _genuine([{"id": "a", "outcome": "passed"}] * 2 + [{"id": "zz", "outcome": "x"}], key)
    channel = read_channel(twice + b'{"partial', key, {"a"})
    assert channel.records["a"].outcome == "error"
    assert any("two results" in n for n in channel.notes)
    assert any("unplanned" in n for n in channel.notes)
    assert any("incomplete" in n for n in channel.notes)


def test_long_messages_are_cut_so_a_line_is_written_atomically() -> None:
    key = HostKey.new()
    stream = _genuine([{"id": "a", "outcome": "failed", "message": "é" * 5000}], key)
    assert all(len(line) <= MAX_LINE_BYTES for line in stream.split(b"\n"))
    assert read_channel(stream, key, {"a"}).records["a"].message.endswith("...")


# -- load-time checks ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "options", "key", "text"),
    [
        (SPEC, 'files = ["other/data.txt"]\n', "tests[0].files[0]", "does not exist"),
        (SPEC, 'files = ["README.md"]\n', "tests[0].files[0]", "not in the spec's directory"),
        (SPEC, 'module_dir = "../up"\n', "tests[0].module_dir", "stay inside"),
        (SPEC, "per_test_timeout_s = 0\n", "tests[0].per_test_timeout_s", "greater than 0"),
        (SPEC, "unknown = 1\n", "tests[0].unknown", "Extra inputs"),
        ("def test_x(:\n", "", "tests[0].spec", "does not parse"),
        ("import unittest\n\ndef helper():\n    pass\n", "", "tests[0].spec", "no test functions"),
    ],
)
def test_bad_entries_are_refused_at_load_time(
    tmp_path: Path, spec: str, options: str, key: str, text: str
) -> None:
    root = _package(tmp_path / "pkg", options, spec=spec)
    (root / "README.md").write_text("x")
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.key == key
    assert text in str(info.value)


def test_a_spec_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    root = _package(tmp_path / "pkg", spec="import pytest\n\ndef test_x(:\n    pass\n")
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.file == "tests/test_add.py:3"


def test_files_next_to_the_spec_are_put_next_to_it(tmp_path: Path) -> None:
    root = _package(tmp_path / "pkg", 'files = ["tests/data/input.txt", "tests/helpers.py"]\n')
    (root / "tests" / "data").mkdir()
    (root / "tests" / "data" / "input.txt").write_text("42\n")
    (root / "tests" / "helpers.py").write_text("X = 1\n")
    backend, seen = _fake_runner(CORRECT)
    with load_package(root) as package:
        grade(package, FileSet.from_mapping({"solution.py": CORRECT}), backend=backend)
    spec, workspace = seen[0]
    harness = spec.argv[-1].removeprefix("/work/")
    assert workspace.read(f"{harness}/spec/data/input.txt") == b"42\n"
    assert workspace.read(f"{harness}/spec/helpers.py") == b"X = 1\n"
