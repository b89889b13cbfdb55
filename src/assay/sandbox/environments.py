"""Named runtime environments: which toolchain a sandbox offers.

Native sandboxes bind the host's toolchains read-only; Docker sandboxes use
one locally built image per environment (``assay image build``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from assay.errors import UnknownEnvironmentError
from assay.sandbox.spec import MIB, Limits

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
IMAGE_TAG = "2"  # bumped when an environment's packages change


def _env(**extra: str) -> Mapping[str, str]:
    base = {
        "PATH": BASE_PATH,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": "/work",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    base.update(extra)
    return MappingProxyType(base)


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


ENVIRONMENTS: Mapping[str, Environment] = MappingProxyType(
    {
        e.name: e
        for e in (
            Environment(
                name="python3",
                description="Python 3 (Debian's python3)",
                debian_packages=("python3", "python3-pytest"),
                probe=("python3", "-c", "print(1)"),
            ),
            Environment(
                name="c",
                description="C: gcc, make, valgrind",
                debian_packages=("gcc", "libc6-dev", "make", "valgrind"),
                probe=("gcc", "--version"),
            ),
            Environment(
                name="cpp",
                description="C++: g++, make, valgrind",
                debian_packages=("g++", "make", "valgrind"),
                probe=("g++", "--version"),
            ),
            Environment(
                name="java",
                description="Java: OpenJDK 17",
                debian_packages=("openjdk-17-jdk-headless",),
                probe=("java", "-version"),
                default_limits=Limits(memory_bytes=1024 * MIB, pids=128),
            ),
        )
    }
)

DEFAULT_ENVIRONMENT = "python3"


def get_environment(name: str) -> Environment:
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        known = ", ".join(sorted(ENVIRONMENTS))
        raise UnknownEnvironmentError(f"unknown environment {name!r}; known: {known}") from None
