"""Static checks: blacklisted and whitelisted functions and imports (picobytes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from assay.grading.outcome import StaticFinding
from assay.grading.spec import StaticSpec

if TYPE_CHECKING:
    from assay.grading.context import GradingContext


def check_sources(
    spec: StaticSpec, environment: str, files: Mapping[str, bytes]
) -> list[StaticFinding]:
    """Findings from the submission's source files, before anything is built."""
    return []


def check_build(spec: StaticSpec, environment: str, ctx: GradingContext) -> list[StaticFinding]:
    """Findings from the built workspace (C/C++: the objects' undefined symbols)."""
    return []


__all__ = ["check_build", "check_sources"]
