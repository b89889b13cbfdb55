"""Runtime environments: which root filesystem and toolchain a sandbox runs in.

An ``Environment`` is a planned spec (``assay.sandbox.envs``): its key names the
built tree both backends run programs in (the native backend binds it as the
read-only ``/``; the Docker backend runs an image imported from it). The
built-in ones are specs in ``assay.sandbox.envs.builtin``; an assignment may
declare its own (an ``[environment]`` table). ``EnvironmentProvider`` finds a
key's tree in the store, or fetches or builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from assay.errors import UnknownEnvironmentError
from assay.sandbox.envs.builtin import BUILTIN_SPECS, builtin_source
from assay.sandbox.envs.plan import BASE_PATH, BuildPlan, plan
from assay.sandbox.envs.resolve import find_source
from assay.sandbox.envs.spec import SpecSource
from assay.sandbox.spec import Limits

__all__ = [
    "BASE_PATH",
    "DEFAULT_ENVIRONMENT",
    "ENVIRONMENTS",
    "Environment",
    "find_environment",
    "get_environment",
]

DOCKER_REPOSITORY = "assay-env"


@dataclass(frozen=True)
class Environment:
    """A runtime environment: a planned spec, and what runs in it get."""

    plan: BuildPlan

    @classmethod
    def from_source(cls, source: SpecSource) -> Environment:
        """Plan ``source`` (reading the files it names) into an environment."""
        return cls(plan(source))

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def family(self) -> str:
        """The language it is for: the built-in furthest down its bases (``c`` for a
        course's environment on ``c``, ``python3`` for ``python3-scientific``), else
        its own name. Grading uses it where the language matters (diagnostics,
        assert parsing, checkers)."""
        family = self.name
        plan: BuildPlan | None = self.plan
        while plan is not None:
            if plan.builtin:
                family = plan.name
            plan = plan.base
        return family

    @property
    def key(self) -> str:
        """The SHA-256 naming the built tree (``assay env list`` shows it)."""
        return self.plan.key

    @property
    def description(self) -> str:
        return self.plan.source.spec.description

    @property
    def builtin(self) -> bool:
        return self.plan.builtin

    @property
    def debian_packages(self) -> tuple[str, ...]:
        return self.plan.apt

    @property
    def probe(self) -> tuple[str, ...]:
        """A command that must succeed for the environment to be usable."""
        return self.plan.probe

    @property
    def env(self) -> Mapping[str, str]:
        return self.plan.env

    @property
    def default_limits(self) -> Limits:
        return self.plan.limits

    @property
    def docker_image(self) -> str:
        """The Docker backend's image of this tree: one per key."""
        return f"{DOCKER_REPOSITORY}:{self.key[:24]}"


@cache
def _builtin(name: str) -> Environment:
    source = builtin_source(name)
    if source is None:
        raise UnknownEnvironmentError(f"unknown environment {name!r}")
    return Environment.from_source(source)


ENVIRONMENTS: Mapping[str, Environment] = MappingProxyType(
    {name: _builtin(name) for name in BUILTIN_SPECS}
)

DEFAULT_ENVIRONMENT = "python3"


def get_environment(name: str) -> Environment:
    """The built-in environment called ``name``."""
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        known = ", ".join(sorted(ENVIRONMENTS))
        raise UnknownEnvironmentError(f"unknown environment {name!r}; known: {known}") from None


def find_environment(target: str) -> Environment:
    """A built-in environment by name, else the spec at a path (a spec file, or a
    directory holding ``environment.toml`` or an ``assignment.toml`` with one)."""
    builtin = ENVIRONMENTS.get(target)
    return builtin if builtin is not None else Environment.from_source(find_source(target))
