"""The lock files pin exactly what pyproject.toml allows, and all of it.

``requirements.lock`` (the application, CI, the images) and ``requirements-dev.lock``
(plus the ``dev`` extra) are made by ``scripts/lock.sh`` from pyproject.toml's ranges;
an edited range without a re-lock, a hand-edited pin or a dependency missing from a
lock fails here.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
DEV = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]


def read_lock(name: str) -> dict[str, Version]:
    """The ``name==version`` pins of a lock file (comments and options skipped)."""
    pins: dict[str, Version] = {}
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1, f"{name}: {line!r} is not one exact pin"
        assert specifiers[0].operator == "==", f"{name}: {line!r} is not an == pin"
        key = canonicalize_name(requirement.name)
        assert key not in pins, f"{name}: {requirement.name} is pinned twice"
        pins[key] = Version(specifiers[0].version)
    return pins


def unmet(requirements: list[Requirement], pins: dict[str, Version]) -> list[str]:
    problems = []
    environment = default_environment()
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        version = pins.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    return problems


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [("requirements.lock", RUNTIME), ("requirements-dev.lock", RUNTIME + DEV)],
)
def test_lock_covers_and_satisfies_pyproject(lock: str, requirements: list[Requirement]) -> None:
    assert unmet(requirements, read_lock(lock)) == []


def test_dev_lock_keeps_the_application_pins() -> None:
    """Tests run against exactly the versions the images install."""
    runtime, dev = read_lock("requirements.lock"), read_lock("requirements-dev.lock")
    differ = {name: (v, dev.get(name)) for name, v in runtime.items() if dev.get(name) != v}
    assert differ == {}


def test_library_dependencies_are_ranges_not_pins() -> None:
    """People who only want the sandbox library are not pinned to our exact versions:
    each dependency has a lower bound, and none is pinned with == (the lock does that)."""
    for requirement in RUNTIME:
        operators = {spec.operator for spec in requirement.specifier}
        assert ">=" in operators, f"{requirement}: no lower bound"
        assert not operators & {"==", "==="}, f"{requirement}: pinned in pyproject.toml"


def test_lock_check_finds_a_mismatch() -> None:
    """The check above can fail: an out-of-range pin and a missing package are named."""
    pins = dict(read_lock("requirements.lock"))
    pins[canonicalize_name("sqlalchemy")] = Version("2.2.0")
    del pins[canonicalize_name("fastapi")]
    problems = unmet(RUNTIME, pins)
    assert any(p.startswith("sqlalchemy==2.2.0 is outside") for p in problems), problems
    assert "fastapi is not in the lock" in problems


def test_the_installed_versions_are_the_locked_ones() -> None:
    """The environment running the tests was installed from the dev lock (setup.sh)."""
    locked = read_lock("requirements-dev.lock")
    wrong = {}
    for requirement in RUNTIME + DEV:
        name = canonicalize_name(requirement.name)
        try:
            installed = Version(version(requirement.name))
        except PackageNotFoundError:
            installed = None
        if installed != locked.get(name):
            wrong[name] = (installed, locked.get(name))
    assert wrong == {}
