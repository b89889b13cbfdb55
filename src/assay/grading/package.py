"""Assignment packages: a directory (or an archive of one) with ``assignment.toml``.

``AssignmentPackage`` is a validated package; ``parse_manifest`` reads its
manifest. ``assay.grading.loader.load_package`` makes one, validating
everything before any student code runs.
"""

from __future__ import annotations

import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assay.errors import PackageError
from assay.grading.archive import ArchiveLimits
from assay.grading.hookplan import HookPlan
from assay.grading.spec import AssignmentSpec, TestSpec
from assay.sandbox.environments import Environment
from assay.sandbox.spec import Limits

MANIFEST = "assignment.toml"
PACKAGE_ARCHIVE_LIMITS = ArchiveLimits(max_total_bytes=256 * 1024 * 1024, max_entries=20_000)


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fix_for(error: dict[str, Any]) -> str | None:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "remove the key or check its spelling (see docs/assignments.md)"
    if kind == "missing":
        return "add the key"
    if kind == "string_pattern_mismatch":
        return "use lowercase letters, digits, '.', '_' and '-' (at most 64)"
    return None


def validation_error(exc: ValidationError, file: str, prefix: str = "") -> PackageError:
    """One ``PackageError`` naming the key of each problem pydantic found."""
    lines = []
    for err in exc.errors():
        loc = ((prefix,) if prefix else ()) + tuple(err["loc"])
        fix = _fix_for(dict(err))
        lines.append((_key(loc), str(err["msg"]), fix))
    if len(lines) == 1:
        key, msg, fix = lines[0]
        return PackageError(msg, file=file, key=key, fix=fix)
    listed = "\n".join(
        f"  {key}: {msg}" + (f" (fix: {fix})" if fix else "") for key, msg, fix in lines
    )
    return PackageError(f"{len(lines)} problems:\n{listed}", file=file, key=lines[0][0])


@dataclass
class AssignmentPackage:
    """A validated package. Paths inside it are resolved safely with ``path``."""

    root: Path
    spec: AssignmentSpec
    statement: str
    environment: Environment
    options: dict[str, BaseModel] = field(default_factory=dict)  # test name -> kind options
    hooks: HookPlan | None = None  # grader.py's hooks, read without running them
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- paths -------------------------------------------------------------
    def path(self, relative: str, *, key: str | None = None, must_exist: bool = True) -> Path:
        """A file of the package; refuses paths that leave it (``..``, absolute, links out)."""
        rel = Path(relative)
        if rel.is_absolute() or ".." in rel.parts or "\0" in relative:
            raise PackageError(
                f"{relative!r} must be a path inside the package",
                file=MANIFEST,
                key=key,
                fix="use a relative path without '..'",
            )
        full = (self.root / rel).resolve()
        if not full.is_relative_to(self.root.resolve()):
            raise PackageError(f"{relative!r} leads outside the package", file=MANIFEST, key=key)
        if must_exist and not full.exists():
            raise PackageError(
                f"{relative!r} does not exist in the package",
                file=MANIFEST,
                key=key,
                fix=f"create {relative} or correct the path",
            )
        return full

    def optional_dir(self, relative: str) -> Path | None:
        full = self.path(relative, must_exist=False)
        return full if full.is_dir() else None

    # -- limits ------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        """The package's default limits (the environment's, overridden by ``[limits]``)."""
        return self.spec.limits.apply(self.environment.default_limits)

    def test_limits(self, test: TestSpec) -> Limits:
        return test.limits.apply(self.limits)

    @property
    def build_limits(self) -> Limits:
        return self.spec.build.limits.apply(self.limits)

    @property
    def max_score(self) -> float:
        extra = self.hooks.points if self.hooks else 0.0
        return sum(t.points for t in self.spec.tests) + extra

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> AssignmentPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_manifest(text: str, file: str = MANIFEST) -> AssignmentSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PackageError(
            f"not valid TOML: {exc}", file=file, fix="correct the TOML syntax"
        ) from exc
    try:
        return AssignmentSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, file) from exc
