"""The built-in environments as specs: python3, c, cpp, java.

Their names and Debian packages are those Assay has always offered; a course may
derive its own from any of them (``base = "python3"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from assay.sandbox.envs.spec import EnvironmentSpec, SpecSource
from assay.sandbox.limitspec import LimitsSpec
from assay.sandbox.spec import MIB

BUILTIN_ORIGIN = "built-in"

_SPECS = (
    EnvironmentSpec(
        name="python3",
        description="Python 3 (Debian's python3)",
        apt=("python3", "python3-pytest"),
        probe=("python3", "-c", "print(1)"),
    ),
    EnvironmentSpec(
        name="c",
        description="C: gcc, make, valgrind",
        apt=("gcc", "libc6-dev", "make", "valgrind"),
        probe=("gcc", "--version"),
    ),
    EnvironmentSpec(
        name="cpp",
        description="C++: g++, make, valgrind",
        apt=("g++", "make", "valgrind"),
        probe=("g++", "--version"),
    ),
    EnvironmentSpec(
        name="java",
        description="Java: OpenJDK 17",
        apt=("openjdk-17-jdk-headless",),
        probe=("java", "-version"),
        limits=LimitsSpec(memory=1024 * MIB, pids=128),
    ),
)

BUILTIN_SPECS: Mapping[str, EnvironmentSpec] = MappingProxyType(
    {spec.name: spec for spec in _SPECS if spec.name}
)


def builtin_source(name: str) -> SpecSource | None:
    """The built-in spec called ``name``, if there is one."""
    spec = BUILTIN_SPECS.get(name)
    return None if spec is None else SpecSource(spec, None, BUILTIN_ORIGIN)
