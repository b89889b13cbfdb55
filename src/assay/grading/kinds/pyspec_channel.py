"""The host's end of the spec runner's result channel (untrusted bytes in).

The runner's first line is its Diffie-Hellman public value; every later
line is ``<json>\\t<hmac>`` with a sequence number under the agreed key (see
``assay.grading.harness.spec_runner``). Lines that fail the check were
written by someone else: they are counted as forged and never read.
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

from assay.grading.harness.spec_runner import (
    GENERATOR,
    MAX_LINE_BYTES,
    MAX_MESSAGE_CHARS,
    MODP_PRIME,
    SECRET_BITS,
    finite_score,
    line_mac,
    shared_key,
    valid_public,
)
from assay.grading.outcome import TestOutcome, TestStatus
from assay.sandbox.result import RunResult, Termination

OUTCOMES = frozenset({"passed", "failed", "error", "skipped", "timeout", "crashed"})


@dataclass(frozen=True)
class HostKey:
    """The host's Diffie-Hellman pair for one run."""

    secret: int
    public_hex: str

    @classmethod
    def new(cls) -> HostKey:
        secret = secrets.randbits(SECRET_BITS)
        return cls(secret, format(pow(GENERATOR, secret, MODP_PRIME), "x"))


@dataclass(frozen=True)
class Record:
    """One test's result as the runner reported it."""

    outcome: str
    assertion: bool
    message: str
    wall_s: float = 0.0
    signal: int | None = None
    score: float | None = None  # what a partial-credit test set (unbounded: the host clamps)


@dataclass
class Channel:
    records: dict[str, Record] = field(default_factory=dict)
    done: bool = False
    forged: int = 0
    notes: list[str] = field(default_factory=list)


def _record(data: dict[str, Any]) -> Record | None:
    outcome, message, wall = data.get("outcome"), data.get("message", ""), data.get("wall_s", 0.0)
    signal = data.get("signal")
    if outcome not in OUTCOMES or not isinstance(message, str):
        return None
    if not isinstance(wall, int | float) or isinstance(wall, bool) or not math.isfinite(wall):
        wall = 0.0
    return Record(
        outcome=outcome,
        assertion=data.get("assertion") is True,
        message=message[: MAX_MESSAGE_CHARS + 3],
        wall_s=max(0.0, float(wall)),
        signal=signal if isinstance(signal, int) and not isinstance(signal, bool) else None,
        score=finite_score(data.get("score")),
    )


def _hello(line: bytes, key: HostKey) -> bytes | None:
    try:
        data = json.loads(line)
        public = int(data["hello"], 16)
    except (ValueError, KeyError, TypeError):
        return None
    return shared_key(public, key.secret) if valid_public(public) else None


def read_channel(stdout: bytes, key: HostKey, ids: Collection[str]) -> Channel:
    """The results the runner sent for ``ids``; everything else becomes a note."""
    channel = Channel()
    *lines, tail = stdout.split(b"\n")
    if tail:
        channel.notes.append("the result channel ends in an incomplete line")
    if not lines:
        channel.notes.append("nothing on the result channel")
        return channel
    shared = _hello(lines[0], key)
    if shared is None:
        channel.notes.append("the result channel does not start with the runner's handshake")
        return channel
    seq = 0
    for line in lines[1:]:
        payload, tab, mac = line.rpartition(b"\t")
        expected = line_mac(shared, seq, payload).encode()
        if not tab or len(line) > MAX_LINE_BYTES or not hmac.compare_digest(expected, mac):
            channel.forged += 1
            continue
        seq += 1
        try:
            data = json.loads(payload)
        except ValueError:
            data = None
        _accept(channel, data, ids)
    return channel


def _accept(channel: Channel, data: Any, ids: Collection[str]) -> None:
    if not isinstance(data, dict):
        channel.notes.append("a result line is not an object")
        return
    if data.get("done") is True:
        channel.done = True
        return
    test_id = data.get("id")
    record = _record(data)
    if not isinstance(test_id, str) or test_id not in ids:
        channel.notes.append(f"a result for an unplanned test: {str(test_id)[:80]!r}")
    elif test_id in channel.records:
        channel.notes.append(f"two results for {test_id}: the test counts as failed")
        channel.records[test_id] = Record("error", False, "the test reported twice")
    elif record is None:
        channel.notes.append(f"a malformed result for {test_id}")
        channel.records[test_id] = Record("error", False, "the test's result was malformed")
    else:
        channel.records[test_id] = record


def channel_verdict(
    outcomes: list[TestOutcome], channel: Channel, result: RunResult, *, also_forged: str = ""
) -> list[TestOutcome]:
    """The outcomes as the channel lets them stand: all 0 when it was forged, else with notes.

    ``also_forged`` names forgery the kind found elsewhere (its outcomes score 0 too).
    """
    notes = list(channel.notes)
    if not channel.done and result.termination is Termination.EXITED:
        notes.append("the runner did not finish its report")
    if channel.forged or also_forged:
        where = [
            f"{channel.forged} forged line(s) on the result channel" if channel.forged else "",
            also_forged,
        ]
        forged = (
            f"tampering: {' and '.join(w for w in where if w)}; every test of this entry scores 0"
        )
        return [
            replace(
                o,
                status=TestStatus.FAILED if o.passed else o.status,
                score=0.0,
                message="failed" if o.passed else o.message,
                tampered=True,
                staff_detail="\n".join([forged, *notes, o.staff_detail or ""]).strip(),
            )
            for o in outcomes
        ]
    if notes:
        note = "\n".join(notes)
        return [replace(o, staff_detail=f"{o.staff_detail}\n{note}".strip()) for o in outcomes]
    return outcomes
