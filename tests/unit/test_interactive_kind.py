"""The interactive kind's parts without a sandbox: verdict order, relay, `.interaction` files,
options."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.grading.context import GradingContext
from assay.grading.interaction import (
    Direction,
    InteractionLine,
    format_interaction,
    interaction_markdown,
    interaction_problem,
    parse_interaction,
)
from assay.grading.kinds.interactive_judge import judge_environment, prepare_judge, read_judge
from assay.grading.kinds.interactive_relay import Transcript, run_pair
from assay.grading.kinds.interactive_verdict import PairVerdict, decide
from assay.grading.loader import load_package
from assay.sandbox.fake import FakeBackend, FakeWorkspace, fake_result
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.session import Sandbox
from assay.sandbox.spec import Dialogue, Limits, RunSpec

LIMITS = Limits(cpu_time_s=1.0, wall_time_s=3.0)


def run(
    termination: Termination = Termination.EXITED,
    exit_code: int | None = 0,
    signal: int | None = None,
    cpu: float = 0.1,
) -> RunResult:
    return RunResult(termination, exit_code, signal, cpu, cpu, 0, b"", b"")


AC, WA = run(exit_code=42), run(exit_code=43)
OK = run()
TLE = run(Termination.CPU_TIME_LIMIT, None, cpu=1.2)
WALL = run(Termination.WALL_TIME_LIMIT, None)
SLOW = run(cpu=1.5)  # exited by itself, but used more CPU time than its limit
RTE = run(exit_code=1)
SEGV = run(Termination.SIGNALED, None, signal=11)
MLE = run(Termination.MEMORY_LIMIT, None)
JUDGE_CRASH = run(exit_code=1)
JUDGE_KILLED = run(Termination.WALL_TIME_LIMIT, None)
JUDGE_SIGNALED = run(Termination.SIGNALED, None, signal=9)


@pytest.mark.parametrize(
    ("judge", "student", "judge_first", "verdict"),
    [
        # 1. a judge that failed decides, whatever the submission did and whoever ended first
        (JUDGE_CRASH, OK, True, PairVerdict.JUDGE_ERROR),
        (JUDGE_CRASH, TLE, False, PairVerdict.JUDGE_ERROR),
        (JUDGE_KILLED, WALL, False, PairVerdict.JUDGE_ERROR),
        (JUDGE_SIGNALED, RTE, True, PairVerdict.JUDGE_ERROR),
        (run(exit_code=0), OK, True, PairVerdict.JUDGE_ERROR),  # 0 is not 42
        # 2. the judge rejected first: wrong answer before time limit and run-time error
        (WA, TLE, True, PairVerdict.WRONG_ANSWER),
        (WA, WALL, True, PairVerdict.WRONG_ANSWER),
        (WA, RTE, True, PairVerdict.WRONG_ANSWER),
        (WA, SEGV, True, PairVerdict.WRONG_ANSWER),
        # 3. time limit before run-time error and before the judge's verdict
        (WA, TLE, False, PairVerdict.TIME_LIMIT),
        (AC, TLE, False, PairVerdict.TIME_LIMIT),
        (AC, WALL, True, PairVerdict.TIME_LIMIT),
        (AC, SLOW, False, PairVerdict.TIME_LIMIT),
        # 4. run-time error before the judge's verdict
        (WA, RTE, False, PairVerdict.RUN_ERROR),
        (AC, RTE, True, PairVerdict.RUN_ERROR),
        (AC, SEGV, False, PairVerdict.RUN_ERROR),
        (AC, MLE, False, PairVerdict.RUN_ERROR),
        # 5. the judge's verdict
        (AC, OK, True, PairVerdict.ACCEPTED),
        (AC, OK, False, PairVerdict.ACCEPTED),
        (WA, OK, False, PairVerdict.WRONG_ANSWER),
        (WA, OK, True, PairVerdict.WRONG_ANSWER),
    ],
)
def test_verdict_order_is_problemtools(
    judge: RunResult, student: RunResult, judge_first: bool, verdict: PairVerdict
) -> None:
    assert decide(judge, student, judge_first=judge_first, limits=LIMITS) is verdict


# -- the relay, with two threads standing in for the sandboxed processes -------------------
Process = Callable[[Dialogue], RunResult]


def process(
    script: Callable[[Callable[[], bytes | None], Callable[[bytes], None]], int],
) -> Process:
    """A fake run: ``script(read_line, write)`` returns the exit status; it runs as the
    backends do: replies pumped from a thread, output handed to ``heard``, then ``hang_up``."""

    def run_it(dialogue: Dialogue) -> RunResult:
        received: list[bytes] = []
        ended = threading.Event()
        got = threading.Condition()

        def pump() -> None:
            for chunk in dialogue.replies():
                with got:
                    received.append(chunk)
                    got.notify_all()
            with got:
                ended.set()
                got.notify_all()

        pumper = threading.Thread(target=pump, daemon=True)
        pumper.start()
        buffer = bytearray()

        def read_line() -> bytes | None:
            with got:
                while True:
                    while received:
                        buffer.extend(received.pop(0))
                    if b"\n" in buffer:
                        line, _, rest = bytes(buffer).partition(b"\n")
                        buffer[:] = rest
                        return line
                    if ended.is_set():
                        return None
                    got.wait(5)

        out = bytearray()

        def write(data: bytes) -> None:
            out.extend(data)
            dialogue.heard(data)

        status = script(read_line, write)
        dialogue.hang_up()
        pumper.join(5)
        assert not pumper.is_alive(), "replies did not end after hang_up"
        return RunResult(Termination.EXITED, status, None, 0, 0, 0, bytes(out), b"")

    return run_it


def test_relay_crosses_the_streams_and_records_the_conversation() -> None:
    def judge(read: Callable[[], bytes | None], write: Callable[[bytes], None]) -> int:
        write(b"start\n")
        return 42 if read() == b"hello" else 43

    def student(read: Callable[[], bytes | None], write: Callable[[bytes], None]) -> int:
        assert read() == b"start"
        write(b"hello\n")
        return 0

    pair = run_pair(process(judge), process(student), judge_bytes=1024, student_bytes=1024)
    assert (pair.judge.exit_code, pair.student.exit_code) == (42, 0)
    assert format_interaction(pair.transcript) == "<start\n>hello\n"


def test_the_end_of_one_side_is_the_end_of_the_others_input() -> None:
    """The judge stops first: the submission, still reading, sees end of file (no hang)."""

    def judge(read: Callable[[], bytes | None], write: Callable[[bytes], None]) -> int:
        read()
        return 43

    def student(read: Callable[[], bytes | None], write: Callable[[bytes], None]) -> int:
        write(b"guess 1\n")
        return 0 if read() is None else 1

    pair = run_pair(process(judge), process(student), judge_bytes=1024, student_bytes=1024)
    assert pair.student.exit_code == 0
    assert pair.judge_first


def test_relay_is_bounded_by_the_writers_limit() -> None:
    def judge(read: Callable[[], bytes | None], write: Callable[[bytes], None]) -> int:
        total = 0
        while (line := read()) is not None:
            total += len(line) + 1
        return 42 if total <= 100 else 43

    def student(read: Callable[[], bytes | None], write: Callable[[bytes], None]) -> int:
        for _ in range(50):
            write(b"0123456789\n")
        return 0

    pair = run_pair(process(judge), process(student), judge_bytes=1024, student_bytes=100)
    assert pair.judge.exit_code == 42  # only the first 100 bytes reached the judge


def test_an_exception_of_one_run_is_raised_after_the_other_ended() -> None:
    def broken(dialogue: Dialogue) -> RunResult:
        raise RuntimeError("backend failed")

    def student(read: Callable[[], bytes | None], write: Callable[[bytes], None]) -> int:
        return 0 if read() is None else 1  # sees end of file: the judge never started

    with pytest.raises(RuntimeError, match="backend failed"):
        run_pair(broken, process(student), judge_bytes=10, student_bytes=10)


# -- .interaction files --------------------------------------------------------------------
SAMPLE = "<10\n>guess 5\n<higher\n>guess 7\n<correct\n"


def test_interaction_lines_keep_their_direction() -> None:
    lines = parse_interaction(SAMPLE)
    assert lines[0] == InteractionLine(Direction.TO_SUBMISSION, "10")
    assert lines[1] == InteractionLine(Direction.FROM_SUBMISSION, "guess 5")
    assert format_interaction(lines) == SAMPLE
    passes = parse_interaction("<a\n---\n>b\n")
    assert [line.direction for line in passes] == [
        Direction.TO_SUBMISSION,
        Direction.SEPARATOR,
        Direction.FROM_SUBMISSION,
    ]


def test_interaction_problems_and_markdown() -> None:
    assert interaction_problem(SAMPLE) is None
    assert interaction_problem("") == "is empty"
    assert "neither" in (interaction_problem("<1\nguess 5\n") or "")
    table = interaction_markdown(SAMPLE)
    assert "| `10` | |" in table
    assert "| | `guess 5` |" in table


# -- options and the judge's files -------------------------------------------------------
def write_package(root: Path, test: str, files: dict[str, str]) -> Path:
    manifest = (
        '[assignment]\nname = "guess"\n[run]\ncommand = ["python3", "main.py"]\n'
        f'[[tests]]\nname = "one"\nkind = "interactive"\n{test}'
    )
    for rel, text in {"assignment.toml": manifest, "statement.md": "# Guess\n", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_valid_test_loads(tmp_path: Path) -> None:
    package = write_package(
        tmp_path,
        'judge = "judge/"\ninput_file = "t/1.in"\nanswer_file = "t/1.ans"\n'
        'judge_args = "--strict 3"\nsample_interaction = "t/1.interaction"\n',
        {
            "judge/validator.cc": "int main() { return 42; }\n",
            "judge/util.h": "",
            "t/1.in": "5\n",
            "t/1.ans": "",
            "t/1.interaction": SAMPLE,
        },
    )
    with load_package(package) as loaded:
        options = loaded.options["one"]
    assert options.judge_args == ("--strict", "3")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("test", "files", "key"),
    [
        ('judge = "j.py"\n', {"j.py": ""}, "input_file"),  # input_file is required
        ('judge = "nope.py"\ninput_file = "1.in"\n', {"1.in": ""}, "judge"),
        ('judge = "j.txt"\ninput_file = "1.in"\n', {"j.txt": "", "1.in": ""}, "judge"),
        ('judge = "j/"\ninput_file = "1.in"\n', {"j/a.py": "", "j/b.py": "", "1.in": ""}, "judge"),
        (
            'judge = "j.py"\ninput_file = "1.in"\njudge_environment = "cobol"\n',
            {"j.py": "", "1.in": ""},
            "judge_environment",
        ),
        (
            'judge = "j.py"\ninput_file = "1.in"\nsample_interaction = "s"\n',
            {"j.py": "", "1.in": "", "s": "guess 5\n"},
            "sample_interaction",
        ),
        (
            'judge = "j.py"\ninput_file = "1.in"\nstdin_file = "1.in"\n',
            {"j.py": "", "1.in": ""},
            "",
        ),
    ],
)
def test_mistakes_are_named_at_load_time(
    tmp_path: Path, test: str, files: dict[str, str], key: str
) -> None:
    package = write_package(tmp_path, test, files)
    with pytest.raises(PackageError) as caught:
        load_package(package).close()
    assert key in f"{caught.value.key} {caught.value.message}"


def test_a_judge_directory_compiles_all_its_sources(tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    for name in ("main.cpp", "lib.cc", "helper.c", "lib.h"):
        (tmp_path / "v" / name).write_text("")
    judge = read_judge(tmp_path / "v", tmp_path)
    assert not isinstance(judge, str)
    assert (judge.language, set(judge.sources)) == ("cpp", {"main.cpp", "lib.cc"})
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "validator.py").write_text("")
    (tmp_path / "p" / "tools.py").write_text("")
    python = read_judge(tmp_path / "p", tmp_path)
    assert not isinstance(python, str)
    assert (python.language, python.main) == ("python3", "validator.py")


def test_a_judge_is_compiled_once_per_sandbox(tmp_path: Path) -> None:
    package_dir = write_package(
        tmp_path,
        'judge = "judge/"\ninput_file = "1.in"\n',
        {"judge/a.cpp": "int main() { return 42; }\n", "judge/b.cc": "", "1.in": ""},
    )
    runs: list[tuple[str, ...]] = []

    def script(spec: RunSpec, workspace: FakeWorkspace) -> RunResult:
        runs.append(spec.argv)
        return fake_result()

    backend = FakeBackend(script)
    with load_package(package_dir) as package, Sandbox(backend=backend) as student:
        ctx = GradingContext(package, student, backend, package.limits)
        program = read_judge(package.path("judge"), package.root)
        assert not isinstance(program, str)
        box = ctx.trusted_sandbox(judge_environment(program, None, package.environment))
        first = prepare_judge(ctx, box, program)
        again = prepare_judge(ctx, box, program)
        ctx.close()
    assert first == again
    assert first.argv[0].endswith("/judge.bin")
    (compile_run,) = runs  # one compiler run for both
    assert compile_run[0] == "g++"
    assert {Path(a).name for a in compile_run[-2:]} == {"a.cpp", "b.cc"}
    assert "-std=gnu++23" in compile_run  # as problemtools compiles C++


def test_the_transcript_is_bounded_and_keeps_unterminated_lines() -> None:
    transcript = Transcript(limit=20)
    transcript.add(Direction.FROM_SUBMISSION, b"guess ")
    transcript.add(Direction.TO_SUBMISSION, b"hi\n")
    transcript.add(Direction.FROM_SUBMISSION, b"5\nguess 6")  # no newline at the end
    assert format_interaction(transcript.finish()) == "<hi\n>guess 5\n>guess 6\n"
    transcript.add(Direction.TO_SUBMISSION, b"x" * 30 + b"\n")  # over the bound: cut
    assert transcript.cut
    assert len(transcript.finish()) == 3
