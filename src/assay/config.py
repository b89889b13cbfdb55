"""Settings, from the environment (``ASSAY_`` prefix) or a ``.env``-style file.

Nothing is read at import time: call ``get_settings()``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSAY_", env_file=None, extra="ignore")

    state_dir: Path = Field(
        default=Path("/var/lib/assay"),
        description="Where sandbox workspaces and generated files live.",
    )
    sandbox_uid: int = Field(
        default=64000, ge=1, description="Host uid that sandboxed processes run as."
    )
    sandbox_gid: int = Field(default=64000, ge=1, description="Host gid of sandboxed processes.")
    cgroup_parent: str | None = Field(
        default=None,
        description=(
            "cgroup (relative to each hierarchy's root) under which job cgroups are made; "
            "default: a child of this process's own cgroup."
        ),
    )
    bwrap: str = Field(default="bwrap", description="The bubblewrap executable.")
    native_ready_slots: int = Field(
        default=2,
        ge=0,
        description=(
            "Job cgroups with a launcher already inside, prepared in the background so "
            "that a run does not wait for the kernel to move a process into a cgroup."
        ),
    )
    docker_url: str | None = Field(default=None, description="Docker daemon URL (default: env).")
    docker_pool_size: int = Field(
        default=2,
        ge=0,
        description=(
            "Started, never-used containers kept ready per container shape, so opening a "
            "Docker sandbox does not wait for a container start. 0 turns the pool off."
        ),
    )
    grading_parallel_runs: int = Field(
        default=2,
        ge=1,
        description=(
            "Independent tests of one submission (io tests without files) run this many at "
            "a time, each in its own cgroup, where the backend allows (native). 1 = in order."
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
