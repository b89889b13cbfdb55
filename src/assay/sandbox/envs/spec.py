"""An environment's spec: what its root filesystem is built from, and how runs use it.

A spec is written in TOML: an ``environment.toml`` file (keys at its top level or in
an ``[environment]`` table), or the ``[environment]`` table of an ``assignment.toml``.
Every table refuses unknown keys and the error names the key. Paths the spec names
(``setup``, a file's ``source``) are relative to the spec's directory and may not
leave it; they are read when the spec is planned (``assay.sandbox.envs.plan``).

The build part (``base``, ``apt``, ``pip``, ``pip_target``, ``files``, ``setup``) makes
the root filesystem; the run part (``env``, ``probe``, ``limits``) says how runs use
it and never causes a rebuild (it is not in the key).
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assay.errors import EnvironmentSpecError
from assay.sandbox.limitspec import LimitsSpec

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
SUITES = ("bookworm", "trixie")
"""Debian releases a spec's ``base`` may name (anything else names an environment)."""
DEFAULT_SUITE = "bookworm"
PIP_VENV = "/opt/assay/venv"
"""Where ``pip_target = "venv"`` installs pip packages; its ``bin`` leads ``PATH``."""
SPEC_FILE = "environment.toml"
ASSIGNMENT_FILE = "assignment.toml"
TABLE = "environment"
MAX_SETUP_TIMEOUT_S = 6 * 3600.0

_APT_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$")
_PIP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~*+]*$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FORBIDDEN_ROOTS = ("proc", "sys", "dev", "run", "tmp", "work")
"""A file may not be placed here: these are mounted over (or emptied) at run time."""


class PipTarget(StrEnum):
    """Where pip packages go: a venv at ``PIP_VENV``, or Debian's own interpreter."""

    VENV = "venv"
    SYSTEM = "system"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _relative(value: str) -> str:
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or "\0" in value:
        raise ValueError(f"{value!r} must be a relative path inside the spec's directory")
    return value


class FileSpec(_Strict):
    """A file put into the tree: literal ``content`` or a ``source`` file beside the spec."""

    content: str | None = None
    source: str | None = None
    mode: int = Field(default=0o644, ge=0, le=0o1777)  # no setuid or setgid bits

    @field_validator("source")
    @classmethod
    def _source(cls, value: str | None) -> str | None:
        return None if value is None else _relative(value)

    @model_validator(mode="after")
    def _one_of(self) -> FileSpec:
        if (self.content is None) == (self.source is None):
            raise ValueError("give exactly one of content and source")
        return self


class EnvironmentSpec(_Strict):
    """One environment, as written (see the module docstring and docs/environments.md)."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    description: str = ""
    base: str = DEFAULT_SUITE
    apt: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    pip_target: PipTarget = PipTarget.VENV
    files: Mapping[str, FileSpec] = Field(default_factory=dict)
    setup: str | None = None
    setup_timeout_s: float = Field(default=1800.0, gt=0, le=MAX_SETUP_TIMEOUT_S)
    env: Mapping[str, str] = Field(default_factory=dict)
    probe: tuple[str, ...] | None = None
    limits: LimitsSpec | None = None

    @field_validator("base")
    @classmethod
    def _base(cls, value: str) -> str:
        if value not in SUITES and not re.match(NAME_PATTERN, value):
            raise ValueError(
                f"{value!r} is neither a Debian release ({', '.join(SUITES)}) "
                "nor an environment name"
            )
        return value

    @field_validator("apt")
    @classmethod
    def _apt(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for package in value:
            if not _APT_RE.match(package):
                raise ValueError(f"{package!r} is not a Debian package name (name or name=version)")
        return value

    @field_validator("pip")
    @classmethod
    def _pip(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for requirement in value:
            if not _PIP_RE.match(requirement):
                raise ValueError(
                    f"{requirement!r} is not a pip requirement (a name with optional extras "
                    "and version specifiers, no spaces, options or URLs)"
                )
        return value

    @field_validator("files", mode="before")
    @classmethod
    def _files(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        files: dict[str, Any] = {}
        for path, entry in value.items():
            pure = PurePosixPath(str(path))
            parts = pure.parts[1:]
            if not pure.is_absolute() or not parts or ".." in parts or str(pure) != path:
                raise ValueError(f"{path!r} must be a normalized absolute path")
            if parts[0] in _FORBIDDEN_ROOTS:
                raise ValueError(f"{path!r}: /{parts[0]} is replaced at run time")
            files[path] = {"content": entry} if isinstance(entry, str) else entry
        return files

    @field_validator("setup")
    @classmethod
    def _setup(cls, value: str | None) -> str | None:
        return None if value is None else _relative(value)

    @field_validator("env")
    @classmethod
    def _env(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for key, text in value.items():
            if not _ENV_RE.match(key) or "\0" in text:
                raise ValueError(f"invalid environment variable {key!r}")
        return value

    @field_validator("probe", mode="before")
    @classmethod
    def _probe(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = shlex.split(value)
        if value is not None and not value:
            raise ValueError("a probe is a non-empty command")
        return value

    @property
    def derived(self) -> bool:
        """Built on another environment rather than on a Debian release."""
        return self.base not in SUITES


@dataclass(frozen=True)
class SpecSource:
    """A spec and where it came from: its directory resolves ``setup`` and ``source``."""

    spec: EnvironmentSpec
    directory: Path | None
    origin: str
    """For messages: the file it was read from, or ``built-in``."""


def parse_spec(table: Mapping[str, Any], *, origin: str, prefix: str = "") -> EnvironmentSpec:
    """The spec in ``table``; errors name ``origin`` and the key (under ``prefix``)."""
    try:
        return EnvironmentSpec.model_validate(dict(table))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = first["msg"].removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise EnvironmentSpecError(message, file=origin, key=key or None) from None


def load_spec(path: Path) -> SpecSource:
    """The spec at ``path``: an ``environment.toml``, an ``assignment.toml`` with an
    ``[environment]`` table, any other TOML file, or a directory holding one of those."""
    if path.is_dir():
        for name in (SPEC_FILE, ASSIGNMENT_FILE):
            if (path / name).is_file():
                return load_spec(path / name)
        raise EnvironmentSpecError(f"no {SPEC_FILE} or {ASSIGNMENT_FILE} in {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EnvironmentSpecError(f"cannot read it: {exc.strerror}", file=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EnvironmentSpecError(f"not valid TOML: {exc}", file=str(path)) from None
    if path.name == ASSIGNMENT_FILE or TABLE in data:
        table = data.get(TABLE)
        if not isinstance(table, dict):
            raise EnvironmentSpecError(f"no [{TABLE}] table", file=str(path))
        others = sorted(k for k in data if k != TABLE)
        if path.name != ASSIGNMENT_FILE and others:  # nothing beside the table is read
            raise EnvironmentSpecError(f"unknown key (beside [{TABLE}])", file=str(path),
                                       key=others[0])  # fmt: skip
        spec = parse_spec(table, origin=str(path), prefix=TABLE)
    else:
        spec = parse_spec(data, origin=str(path))
    return SpecSource(spec, path.parent.resolve(), str(path))
