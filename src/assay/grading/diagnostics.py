"""Compiler and interpreter messages turned into diagnostics (file, line, column)."""

from __future__ import annotations

from assay.grading.outcome import Diagnostic


def parse_diagnostics(text: str, environment: str) -> list[Diagnostic]:
    """The diagnostics found in a build log."""
    return []


__all__ = ["parse_diagnostics"]
