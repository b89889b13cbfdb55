"""Regenerate the settings table of docs/server.md from the Settings field descriptions.

.venv/bin/python scripts/settings-table.py          # rewrite the table
.venv/bin/python scripts/settings-table.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from assay.config import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "server.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = '""' if default == "" else str(default)
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `ASSAY_{name.upper()}` | `{shown}` | {description} |")
    return "\n".join(rows)


def rendered(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main() -> int:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        print(f"{DOC}: markers {BEGIN} / {END} missing", file=sys.stderr)
        return 1
    new = rendered(text)
    if "--check" in sys.argv:
        if new != text:
            print(f"{DOC}: the settings table is out of date; run {sys.argv[0]}", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
