"""Limits as written in TOML files (``assignment.toml``, an environment's spec).

Sizes accept ``"256M"``-style strings; every field is optional and an absent one
keeps the limit it is applied to. Unknown keys are refused.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay.sandbox.spec import Limits, parse_size


class LimitsSpec(BaseModel):
    """Limits in a TOML file: sizes accept ``"256M"``-style strings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_time_s: float | None = Field(default=None, gt=0)
    wall_time_s: float | None = Field(default=None, gt=0)
    memory: int | None = None
    pids: int | None = Field(default=None, gt=0)
    output: int | None = None
    file_size: int | None = None
    open_files: int | None = Field(default=None, gt=0)
    workspace: int | None = None
    stack: int | None = None

    @field_validator("memory", "output", "file_size", "workspace", "stack", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str | int) and not isinstance(value, bool):
            return parse_size(value)
        raise ValueError("a size is a number of bytes or a string like '256M'")

    def apply(self, base: Limits) -> Limits:
        return base.replace(
            cpu_time_s=self.cpu_time_s,
            wall_time_s=self.wall_time_s,
            memory_bytes=self.memory,
            pids=self.pids,
            output_bytes=self.output,
            file_size_bytes=self.file_size,
            open_files=self.open_files,
            workspace_bytes=self.workspace,
            stack_bytes=self.stack,
        )
