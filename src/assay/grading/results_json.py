"""Results files written inside a sandbox: untrusted JSON, read one way.

A script test's results file and a Gradescope autograder's ``results.json`` both
come from the sandbox, where the student's code ran: strict JSON (no NaN or
Infinity), UTF-8, a top-level object, or a ``ResultsError`` saying what is wrong.
The callers cap the size first and validate the object with their own schema.
"""

from __future__ import annotations

import json
from typing import Any


class ResultsError(ValueError):
    """The results file is missing, too large or malformed."""


def load_object(data: bytes, what: str) -> dict[str, Any]:
    """The JSON object in ``data``; ``what`` names the file in errors."""
    try:
        raw = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ResultsError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ResultsError(f"{what} must hold a JSON object")
    return raw


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")
