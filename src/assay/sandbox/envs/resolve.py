"""From what a user names (a built-in's name, a spec's path) to a plan and a store."""

from __future__ import annotations

from pathlib import Path

from assay.config import Settings
from assay.errors import ConfigError, UnknownEnvironmentError
from assay.sandbox.envs.builtin import BUILTIN_SPECS, builtin_source
from assay.sandbox.envs.debian import DebianBuilder
from assay.sandbox.envs.plan import BuildPlan, plan
from assay.sandbox.envs.spec import SpecSource, load_spec
from assay.sandbox.envs.store import EnvironmentStore


def find_source(target: str) -> SpecSource:
    """A built-in environment by name, else a spec file or a directory holding one."""
    builtin = builtin_source(target)
    if builtin is not None:
        return builtin
    path = Path(target)
    if path.exists():
        return load_spec(path)
    known = ", ".join(sorted(BUILTIN_SPECS))
    raise UnknownEnvironmentError(
        f"{target!r} is neither a built-in environment ({known}) nor a spec file or directory"
    )


def plan_target(target: str) -> BuildPlan:
    return plan(find_source(target))


def builtin_plans() -> list[BuildPlan]:
    return [plan(s) for name in sorted(BUILTIN_SPECS) if (s := builtin_source(name))]


def store_from_settings(settings: Settings, *, store_dir: Path | None = None) -> EnvironmentStore:
    """The store the settings name, with a builder configured from them."""
    root = store_dir or settings.resolved_environments_dir
    if root.exists() and not root.is_dir():
        raise ConfigError(f"the environment store {root} is not a directory")
    builder = DebianBuilder(
        deb_cache=settings.environment_deb_cache,
        bwrap=settings.bwrap,
        mirror=settings.environment_mirror or None,
        nice=settings.environment_build_nice,
    )
    return EnvironmentStore(root, builder)
