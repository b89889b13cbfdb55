"""Runs an assignment's ``grader.py`` inside its hook sandbox (standard library only).

    python3 -I hook_runner.py <runner dir> <grader.py>

The runner dir holds ``assay/grading/hooks.py`` (the API ``grader.py``
imports). The grading engine is at the other end of the standard streams,
one JSON object a line:

- engine -> runner, first: the job, ``{"phase": "build"}`` or
  ``{"phase": "tests", "tests": [name, ...]}``;
- runner -> engine: ``loaded`` (or ``load_error``), then per hook
  ``build``/``start``/``test``, then ``done``; ``run`` asks for a student run
  and is answered by one line, ``result`` or ``error``.

The hooks' own prints go to standard error (the engine keeps its tail for
staff): file descriptors 0 and 1 are taken for the channel first.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from typing import Any, BinaryIO

MAX_TEXT = 1024 * 1024  # a log, message or output sent back (the engine cuts further)
MAX_TRACEBACK = 16 * 1024


class StreamChannel:
    def __init__(self, inbound: BinaryIO, outbound: BinaryIO) -> None:
        self.inbound, self.outbound = inbound, outbound

    def send(self, message: dict[str, Any]) -> None:
        self.outbound.write(json.dumps(message).encode("utf-8") + b"\n")
        self.outbound.flush()

    def receive(self) -> dict[str, Any]:
        line = self.inbound.readline()
        if not line:
            raise SystemExit("the grading engine closed the channel")
        data = json.loads(line)
        if not isinstance(data, dict):
            raise SystemExit("the grading engine sent something that is not an object")
        return data

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        return self.receive()


def _take_std_streams() -> StreamChannel:
    """fds 0 and 1 become the channel; the hooks get /dev/null and standard error."""
    inbound = os.fdopen(os.dup(0), "rb")
    outbound = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - for the process's life
    for stream in (sys.stdout, sys.stderr):  # a hook's last words survive os._exit
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    return StreamChannel(inbound, outbound)


def _text(value: object) -> str:
    return str(value)[:MAX_TEXT]


def _trace() -> str:
    return traceback.format_exc()[-MAX_TRACEBACK:]


def _load(hooks: Any, path: str, channel: StreamChannel) -> Any:
    registry = hooks.Registry()
    hooks.begin(registry, channel)
    spec = importlib.util.spec_from_file_location("grader", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["grader"] = module
    spec.loader.exec_module(module)
    return registry


def _builds(hooks: Any, registry: Any, channel: StreamChannel) -> None:
    for index, function in enumerate(registry.builds):
        result = hooks.BuildResult()
        try:
            function(result)
        except Exception:  # noqa: BLE001 - reported to the engine as the hook's failure
            channel.send({"type": "build", "index": index, "error": _trace()})
            return
        channel.send(
            {
                "type": "build",
                "index": index,
                "passed": bool(result.passed),
                "log": _text(result.log),
            }
        )
        if not result.passed:
            return


def _tests(hooks: Any, registry: Any, names: list[str], channel: StreamChannel) -> None:
    for name in names:
        channel.send({"type": "start", "name": name})
        registered = registry.tests.get(name)
        if registered is None:
            channel.send(
                {"type": "test", "name": name, "error": "grader.py registered no such test"}
            )
            continue
        result = hooks.TestResult()
        started = time.monotonic()
        try:
            registered.function(result)
        except Exception:  # noqa: BLE001 - reported to the engine as the hook's failure
            channel.send({"type": "test", "name": name, "error": _trace()})
            continue
        score = result.score
        channel.send(
            {
                "type": "test",
                "name": name,
                "passed": bool(result.passed),
                "message": _text(result.message),
                "output": _text(result.output),
                "score": None if score is None else float(score),
                "wall_s": time.monotonic() - started,
            }
        )


def main(argv: list[str]) -> int:
    runner_dir, grader = argv[1], argv[2]
    channel = _take_std_streams()
    sys.path[:0] = [runner_dir, os.path.dirname(os.path.abspath(grader))]
    job = channel.receive()
    hooks = importlib.import_module("assay.grading.hooks")  # the copy in runner_dir

    try:
        registry = _load(hooks, grader, channel)
    except BaseException:  # noqa: BLE001 - a grader.py that cannot be imported, however it fails
        channel.send({"type": "load_error", "error": _trace()})
        return 0
    channel.send({"type": "loaded", "builds": len(registry.builds), "tests": list(registry.tests)})
    if job.get("phase") == "build":
        _builds(hooks, registry, channel)
    else:
        _tests(hooks, registry, [str(n) for n in job.get("tests", [])], channel)
    channel.send({"type": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
