"""Kattis ``.interaction`` files: a sample conversation between a judge and a submission.

Each line starts with ``<`` (what the judge sends: the submission reads it)
or ``>`` (what the submission writes: the judge reads it), as problemtools
renders them ("Read" on the left, "Write" on the right). A line of ``---``
separates the passes of a multi-pass problem. The same notation serves the
transcript of a real conversation in a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_LINES = 2000  # of a sample shown, and of a transcript kept


class Direction(StrEnum):
    TO_SUBMISSION = "<"  # the judge wrote it, the submission reads it
    FROM_SUBMISSION = ">"  # the submission wrote it, the judge reads it
    SEPARATOR = "-"  # the end of a pass (``---``)


@dataclass(frozen=True)
class InteractionLine:
    direction: Direction
    text: str  # without the prefix and the newline


def parse_interaction(text: str) -> list[InteractionLine]:
    """The lines of an ``.interaction`` file (unknown prefixes skipped, as problemtools)."""
    lines: list[InteractionLine] = []
    for raw in text.splitlines()[:MAX_LINES]:
        if raw.startswith("---"):
            lines.append(InteractionLine(Direction.SEPARATOR, ""))
        elif raw[:1] in ("<", ">"):
            lines.append(InteractionLine(Direction(raw[0]), raw[1:]))
    return lines


def interaction_problem(text: str) -> str | None:
    """Why ``text`` is not a usable ``.interaction`` file, or ``None``."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return "is empty"
    bad = next((line for line in lines if not line.startswith(("<", ">", "---"))), None)
    if bad is not None:
        return f"has a line that starts with neither '<' nor '>': {bad[:60]!r}"
    return None


def format_interaction(lines: list[InteractionLine]) -> str:
    """Lines back in ``.interaction`` notation."""
    return "".join(
        "---\n" if line.direction is Direction.SEPARATOR else f"{line.direction}{line.text}\n"
        for line in lines
    )


def interaction_markdown(text: str, title: str = "Sample interaction") -> str:
    """A sample as Markdown for a statement: one row per message, who sent it, what it said."""
    rows = [f"**{title}**\n", "| judge (your program reads) | your program writes |", "|---|---|"]
    for line in parse_interaction(text):
        cell = "`" + line.text.replace("`", "'").replace("|", "\\|") + "`" if line.text else " "
        if line.direction is Direction.TO_SUBMISSION:
            rows.append(f"| {cell} | |")
        elif line.direction is Direction.FROM_SUBMISSION:
            rows.append(f"| | {cell} |")
        else:
            rows.append("| *next pass* | |")
    return "\n".join(rows) + "\n"
