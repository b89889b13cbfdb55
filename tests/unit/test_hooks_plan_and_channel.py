"""grader.py's plan, read from its source without running it, and the engine's end of
the hook runner's channel: every line from the runner is untrusted and checked."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.grading import hooks
from assay.grading.context import GradingContext
from assay.grading.hookplan import read_plan
from assay.grading.hookrun import LIMIT_KEYS, HookDialogue, collect, serve_run
from assay.grading.loader import load_package
from assay.grading.spec import Visibility
from assay.sandbox.fake import FakeBackend, FakeWorkspace, fake_result
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.session import Sandbox
from assay.sandbox.spec import RunSpec


def plan_of(tmp_path: Path, source: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "grader.py"
    path.write_text(source)
    return read_plan(path, "grader.py")


def test_every_way_of_importing_the_api_is_read(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        "import assay.grading.hooks as h\n"
        "from assay.grading import hooks\n"
        "from assay.grading.hooks import test as check, build\n"
        "@build\ndef b(r): pass\n"
        "@h.build\ndef b2(r): pass\n"
        "@check('one', points=2.5, visibility='hidden', group='g')\ndef one(r): pass\n"
        "@hooks.test('two')\ndef two(r): pass\n"
        "@h.test(name='three', points=0)\ndef three(r): pass\n",
    )
    assert plan.builds == 2
    assert [(t.name, t.points, t.visibility, t.group) for t in plan.tests] == [
        ("one", 2.5, Visibility.HIDDEN, "g"),
        ("two", 1.0, Visibility.VISIBLE, ""),
        ("three", 0.0, Visibility.VISIBLE, ""),
    ]
    assert plan.points == 3.5


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("for i in range(3):\n    test(f'case {i}')(print)\n", "other than as a decorator"),
        ("N = 'x'\n@test(N)\ndef t(r): pass\n", "must be a literal"),
        ("@test('x', points=-1)\ndef t(r): pass\n", "points must be a number >= 0"),
        ("@test('x', points=True)\ndef t(r): pass\n", "points must be a number >= 0"),
        ("@test('x', visibility='secret')\ndef t(r): pass\n", "visibility must be"),
        ("@test('x', weight=2)\ndef t(r): pass\n", "no argument 'weight'"),
        ("@test('x')\ndef a(r): pass\n@test('x')\ndef b(r): pass\n", "registered twice"),
        ("if True:\n    @test('x')\n    def t(r): pass\n", "other than as a decorator"),
        ("t = test\n", "other than as a decorator"),
    ],
)
def test_plans_that_cannot_be_read_without_running_are_refused(
    tmp_path: Path, source: str, message: str
) -> None:
    with pytest.raises(PackageError, match=message) as info:
        plan_of(tmp_path, "from assay.grading.hooks import build, test\n" + source)
    assert info.value.file == "grader.py"
    assert "line" in info.value.message


def test_a_package_without_grader_py_has_no_hooks(tmp_path: Path) -> None:
    (tmp_path / "assignment.toml").write_text('[assignment]\nname = "x"\n')
    with load_package(tmp_path) as package:
        assert package.hooks is None
        assert package.max_score == 0


def test_the_hooks_run_result_has_the_sandboxs_fields() -> None:
    sandbox_fields = [(f.name, f.default) for f in dataclasses.fields(RunResult)]
    hooks_fields = [(f.name, f.default) for f in dataclasses.fields(hooks.RunResult)]
    assert hooks_fields == sandbox_fields
    assert [t.value for t in hooks.Termination] == [t.value for t in Termination]
    assert set(hooks.Limits().__dataclass_fields__) == LIMIT_KEYS


# -- the channel ---------------------------------------------------------------


def lines(*messages: object) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def dialogue(job: dict[str, object] | None = None) -> HookDialogue:
    return HookDialogue(job or {"phase": "tests"}, lambda m: {"type": "result"}, lambda n: None)


def runner_run(code: int = 0, stderr: bytes = b"") -> RunResult:
    return RunResult(Termination.EXITED, code, None, 0.1, 0.1, 0, b"", stderr)


def test_results_are_collected_however_the_stream_is_split() -> None:
    talk = dialogue()
    data = lines(
        {"type": "loaded"},
        {"type": "test", "name": "a", "passed": True, "message": "ok", "score": 0.5, "wall_s": 1.5},
        {"type": "test", "name": "b", "error": "Traceback: boom"},
        {"type": "done"},
    )
    for i in range(0, len(data), 7):
        talk.heard(data[i : i + 7])
    phase = collect(talk, runner_run(), ["a", "b"])
    assert phase.failure is None
    assert phase.tests["a"].passed and phase.tests["a"].score == 0.5
    assert phase.tests["a"].text == "ok"
    assert phase.tests["a"].wall_s == 1.5
    assert phase.tests["b"].error == "Traceback: boom"


def test_malformed_and_unplanned_lines_are_the_runners_failure() -> None:
    talk = dialogue()
    talk.heard(b"not json\n[1, 2]\n")
    talk.heard(lines({"type": "test", "name": "zzz", "passed": True}))
    talk.heard(lines({"type": "test", "name": "a", "passed": "yes", "score": float("nan")}))
    talk.heard(lines({"type": "test", "name": "a", "passed": True}, {"type": "done"}))
    phase = collect(talk, runner_run(), ["a"])
    assert "zzz" not in phase.tests
    assert phase.tests["a"].error == "the hook runner reported this test twice"
    assert phase.failure is not None and "not JSON" in phase.failure


def test_an_over_long_line_is_dropped_whole() -> None:
    talk = dialogue()
    talk.heard(b'{"type": "test", "name": "a", "passed": true, "output": "')
    talk.heard(b"x" * (5 << 20))
    talk.heard(b'"}\n' + lines({"type": "done"}))
    phase = collect(talk, runner_run(), ["a"])
    assert "a" not in phase.tests
    assert phase.failure is not None and "over-long" in phase.failure


def test_a_runner_that_dies_early_fails_the_phase_with_its_stderr() -> None:
    talk = dialogue()
    talk.heard(lines({"type": "loaded"}))
    phase = collect(talk, runner_run(3, b"Fatal Python error\n"), ["a"])
    assert phase.failure is not None
    assert "exited with status 3" in phase.failure and "Fatal Python error" in phase.failure


def test_a_load_error_is_reported_for_staff() -> None:
    talk = dialogue()
    talk.heard(lines({"type": "load_error", "error": "ModuleNotFoundError: x"}, {"type": "done"}))
    phase = collect(talk, runner_run(), ["a"])
    assert phase.failure is not None and "ModuleNotFoundError" in phase.failure


def test_the_job_goes_first_then_one_answer_per_request_in_order() -> None:
    served: list[object] = []
    started: list[str] = []

    def serve(message: object) -> dict[str, object]:
        served.append(message)
        return {"type": "result", "n": len(served)}

    talk = HookDialogue({"phase": "build"}, serve, started.append)
    talk.heard(lines({"type": "start", "name": "t1"}, {"type": "run", "argv": ["x"]}))
    talk.hang_up()
    written = list(talk.replies())
    assert [json.loads(w) for w in written] == [{"phase": "build"}, {"type": "result", "n": 1}]
    assert started == ["t1"]


# -- serving a run request -----------------------------------------------------


def context(tmp_path: Path) -> tuple[GradingContext, list[RunSpec]]:
    seen: list[RunSpec] = []

    def script(spec: RunSpec, workspace: FakeWorkspace) -> RunResult:
        seen.append(spec)
        return fake_result(b"out", b"err")

    (tmp_path / "assignment.toml").write_text('[assignment]\nname = "x"\n')
    package = load_package(tmp_path)
    box = Sandbox("python3", backend=FakeBackend(script)).open()
    return GradingContext(package, box, box.backend, package.limits), seen


def test_a_run_request_runs_in_the_students_sandbox(tmp_path: Path) -> None:
    ctx, seen = context(tmp_path)
    reply = serve_run(
        ctx,
        {
            "type": "run",
            "argv": ["./prog", "a"],
            "stdin": base64.b64encode(b"in").decode(),
            "env": {"K": "V"},
            "cwd": "sub",
            "limits": {"cpu_time_s": 0.5, "memory_bytes": 64 << 20},
            "output_policy": "truncate",
        },
    )
    assert reply["type"] == "result"
    assert base64.b64decode(reply["stdout"]) == b"out"
    [spec] = seen
    assert spec.argv == ("./prog", "a") and spec.stdin == b"in" and spec.cwd == "sub"
    assert spec.env["K"] == "V"
    assert (spec.limits.cpu_time_s, spec.limits.memory_bytes) == (0.5, 64 << 20)


@pytest.mark.parametrize(
    "bad",
    [
        {"argv": []},
        {"argv": "ls"},
        {"argv": ["ls", 3]},
        {"argv": ["ls"], "stdin": "not base64!"},
        {"argv": ["ls"], "limits": {"workspace_bytes": 1}},
        {"argv": ["ls"], "limits": {"cpu_time_s": -1}},
        {"argv": ["ls"], "limits": {"cpu_time_s": "1"}},
        {"argv": ["ls"], "env": {"K": 1}},
        {"argv": ["ls"], "cwd": "../../etc"},
        {"argv": ["ls"], "output_policy": "explode"},
    ],
)
def test_bad_run_requests_are_refused_to_the_hook(tmp_path: Path, bad: dict[str, object]) -> None:
    ctx, seen = context(tmp_path)
    reply = serve_run(ctx, {"type": "run", **bad})
    assert reply["type"] == "error" and reply["message"]
    assert seen == []
