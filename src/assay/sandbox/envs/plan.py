"""A spec made ready to build: its inputs read and its key computed.

The key is the SHA-256 of a canonical JSON document (``BuildPlan.canonical``):

- ``builder``: ``BUILDER_VERSION``, bumped whenever the builder's output changes;
- ``arch``: the Debian architecture of this host;
- ``platform``: what every tree gets besides its spec (``PLATFORM_PACKAGES``, the
  sandbox user and the workspace directory);
- ``base``: ``{"suite": ...}`` or, for a derived environment, ``{"key": <base's key>}``;
- ``apt`` and ``pip``: sorted and without repeats (with ``python3-venv`` or ``python3-pip``
  added when pip packages need them), and ``pip_target``;
- ``files``: each path, mode and the SHA-256 of its content;
- ``setup``: the SHA-256 of the setup script's bytes (or null).

Not in the key: the name, description, ``env``, ``probe`` and ``limits`` (they shape
runs, not the tree: changing them must not rebuild), the setup timeout, and the
mirror (every mirror serves the same archive). Apt and pip versions are not pinned
unless the spec pins them: a rebuild of the same key after a store was emptied may
get newer packages.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from assay.errors import EnvironmentSpecError, UnknownEnvironmentError
from assay.sandbox.envs.builtin import BUILTIN_SPECS, builtin_source
from assay.sandbox.envs.platform import (
    PLATFORM_PACKAGES,
    SANDBOX_UID,
    SANDBOX_USER,
    WORKSPACE_DIR,
)
from assay.sandbox.envs.spec import PIP_VENV, PipTarget, SpecSource
from assay.sandbox.limitspec import LimitsSpec
from assay.sandbox.spec import MIB, Limits

BUILDER_VERSION = "2"
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_FILE_BYTES = 64 * MIB
MAX_SETUP_BYTES = 1 * MIB
_MAX_DEPTH = 8
_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf", "ppc64le": "ppc64el"}

BaseResolver = Callable[[str], SpecSource | None]


def host_arch() -> str:
    """This host's Debian architecture name."""
    machine = platform.machine()
    return _ARCHES.get(machine, machine)


@dataclass(frozen=True)
class PlannedFile:
    path: str
    data: bytes
    mode: int


@dataclass(frozen=True)
class BuildPlan:
    """Everything a build needs, read once; ``key`` names the tree it makes."""

    source: SpecSource
    key: str
    suite: str
    base: BuildPlan | None
    apt: tuple[str, ...]
    pip: tuple[str, ...]
    pip_target: PipTarget
    files: tuple[PlannedFile, ...]
    setup: bytes | None
    arch: str

    @property
    def name(self) -> str:
        return self.source.spec.name or self.key[:12]

    @property
    def builtin(self) -> bool:
        spec = self.source.spec
        return spec.name is not None and BUILTIN_SPECS.get(spec.name) == spec

    @property
    def probe(self) -> tuple[str, ...]:
        """The command that must succeed in the tree: the spec's, else its base's."""
        if self.source.spec.probe:
            return self.source.spec.probe
        return self.base.probe if self.base else ("true",)

    @property
    def env(self) -> Mapping[str, str]:
        """Variables of runs: the base's (or Assay's defaults), then the spec's."""
        env = dict(self.base.env) if self.base else default_env()
        if self.pip and self.pip_target is PipTarget.VENV:
            env["PATH"] = f"{PIP_VENV}/bin:{env.get('PATH', BASE_PATH)}"
            env["VIRTUAL_ENV"] = PIP_VENV
        env.update(self.source.spec.env)
        return MappingProxyType(env)

    @property
    def limits(self) -> Limits:
        base = self.base.limits if self.base else Limits()
        own: LimitsSpec | None = self.source.spec.limits
        return own.apply(base) if own else base

    def canonical(self) -> dict[str, Any]:
        """The document the key hashes (stored as ``spec.json``)."""
        return {
            "builder": BUILDER_VERSION,
            "arch": self.arch,
            "platform": {
                "packages": sorted(PLATFORM_PACKAGES),
                "user": SANDBOX_USER,
                "uid": SANDBOX_UID,
                "workspace": WORKSPACE_DIR,
            },
            "base": {"key": self.base.key} if self.base else {"suite": self.suite},
            "apt": list(self.apt),
            "pip": list(self.pip),
            "pip_target": self.pip_target.value,
            "files": [
                {"path": f.path, "mode": f.mode, "sha256": hashlib.sha256(f.data).hexdigest()}
                for f in self.files
            ],
            "setup": hashlib.sha256(self.setup).hexdigest() if self.setup is not None else None,
        }


def default_env() -> dict[str, str]:
    """Variables every run gets unless its environment changes them."""
    return {
        "PATH": BASE_PATH,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": WORKSPACE_DIR,
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys, no spaces, UTF-8: one byte string per document."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_key(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def plan(
    source: SpecSource, *, resolve_base: BaseResolver = builtin_source, _depth: int = 0
) -> BuildPlan:
    """Read the spec's inputs, plan its base first, and compute its key."""
    spec = source.spec
    if _depth > _MAX_DEPTH:
        raise EnvironmentSpecError("bases nest too deeply (a loop?)", file=source.origin)
    base: BuildPlan | None = None
    suite = spec.base
    if spec.derived:
        base_source = resolve_base(spec.base)
        if base_source is None:
            known = ", ".join(sorted(BUILTIN_SPECS))
            raise UnknownEnvironmentError(
                f"{source.origin}: base {spec.base!r} is neither a Debian release nor a known "
                f"environment ({known})"
            )
        base = plan(base_source, resolve_base=resolve_base, _depth=_depth + 1)
        suite = base.suite
    apt = set(spec.apt)
    if spec.pip:
        apt.add("python3-venv" if spec.pip_target is PipTarget.VENV else "python3-pip")
    if base is None:
        apt -= set(PLATFORM_PACKAGES)
    files = tuple(
        PlannedFile(path, _read(source, entry.source, MAX_FILE_BYTES, f"files.{path}"), entry.mode)
        if entry.source is not None
        else PlannedFile(path, (entry.content or "").encode(), entry.mode)
        for path, entry in sorted(spec.files.items())
    )
    setup = _read(source, spec.setup, MAX_SETUP_BYTES, "setup") if spec.setup else None
    draft = BuildPlan(
        source=source,
        key="",
        suite=suite,
        base=base,
        apt=tuple(sorted(apt)),
        pip=tuple(sorted(set(spec.pip))),
        pip_target=spec.pip_target,
        files=files,
        setup=setup,
        arch=host_arch(),
    )
    return replace(draft, key=compute_key(draft.canonical()))


def _read(source: SpecSource, relative: str, limit: int, key: str) -> bytes:
    if source.directory is None:
        raise EnvironmentSpecError("names a file but has no directory", file=source.origin, key=key)
    root = source.directory.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise EnvironmentSpecError(
            f"{relative} leaves the spec's directory", file=source.origin, key=key
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise EnvironmentSpecError(
            f"cannot read {relative}: {exc.strerror}", file=source.origin, key=key
        ) from None
    if len(data) > limit:
        raise EnvironmentSpecError(
            f"{relative} is larger than {limit // MIB} MiB", file=source.origin, key=key
        )
    return data
