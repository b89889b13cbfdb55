"""Named runtime environments: which toolchain a sandbox offers.

The built-in ones (python3, c, cpp, java) are specs
(``assay.sandbox.envs.builtin``); this is their runtime view. Native sandboxes
bind the host's toolchains read-only; Docker sandboxes use one locally built
image per environment (``assay image build``). Environments built into root
filesystems (``assay env build``) are not yet used by either backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from assay.errors import UnknownEnvironmentError
from assay.sandbox.envs.builtin import BUILTIN_SPECS
from assay.sandbox.envs.plan import BASE_PATH, default_env
from assay.sandbox.envs.spec import EnvironmentSpec
from assay.sandbox.spec import Limits

__all__ = ["BASE_PATH", "DEFAULT_ENVIRONMENT", "ENVIRONMENTS", "Environment", "get_environment"]

IMAGE_TAG = "2"  # bumped when an environment's packages change


def _env(**extra: str) -> Mapping[str, str]:
    return MappingProxyType({**default_env(), **extra})


@dataclass(frozen=True)
class Environment:
    """A runtime environment."""

    name: str
    description: str
    debian_packages: tuple[str, ...]
    probe: tuple[str, ...]  # a command that must succeed for the environment to be usable
    env: Mapping[str, str] = field(default_factory=_env)
    default_limits: Limits = field(default_factory=Limits)

    @property
    def docker_image(self) -> str:
        return f"assay-{self.name}:{IMAGE_TAG}"

    @classmethod
    def from_spec(cls, spec: EnvironmentSpec) -> Environment:
        """The runtime view of a spec built on a Debian release (a built-in's)."""
        if spec.name is None or spec.derived:
            raise UnknownEnvironmentError("only a named spec on a Debian release has a view")
        return cls(
            name=spec.name,
            description=spec.description,
            debian_packages=spec.apt,
            probe=spec.probe or ("true",),
            env=_env(**spec.env),
            default_limits=spec.limits.apply(Limits()) if spec.limits else Limits(),
        )


ENVIRONMENTS: Mapping[str, Environment] = MappingProxyType(
    {name: Environment.from_spec(spec) for name, spec in BUILTIN_SPECS.items()}
)

DEFAULT_ENVIRONMENT = "python3"


def get_environment(name: str) -> Environment:
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        known = ", ".join(sorted(ENVIRONMENTS))
        raise UnknownEnvironmentError(f"unknown environment {name!r}; known: {known}") from None
