"""Assignment packages: a directory (or an archive of one) with ``assignment.toml``.

``load_package`` validates everything it can before any student code runs:
the TOML, every table and key, the environment, each test's kind options
and the files they name. Errors name the file, the key and the fix.
"""

from __future__ import annotations

import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assay.errors import ConfigError, PackageError, SubmissionError, UnknownEnvironmentError
from assay.grading.archive import ArchiveLimits, extract_archive, is_archive
from assay.grading.hookplan import HookPlan, read_plan
from assay.grading.spec import AssignmentSpec, TestSpec
from assay.sandbox.environments import Environment, get_environment
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


def load_package(source: str | Path) -> AssignmentPackage:
    """Load and validate a package directory or archive (``.zip``, ``.tar.gz``...)."""
    source = Path(source)
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if source.is_file() and is_archive(source):
        tmp = tempfile.TemporaryDirectory(prefix="assay-package-")
    elif not source.is_dir():
        raise PackageError(
            f"{source} is neither a package directory nor an archive of one",
            fix="give the directory that holds assignment.toml",
        )
    try:
        root = source if tmp is None else _extracted(source, Path(tmp.name))
        return _load_dir(root.resolve(), tmp)
    except BaseException as exc:  # the temporary directory goes with any failure
        if tmp is not None:
            tmp.cleanup()
        if isinstance(exc, UnicodeDecodeError):
            raise PackageError(
                f"a text file of the package is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                fix="save the package's text files as UTF-8",
            ) from exc
        raise


def _extracted(archive: Path, dest: Path) -> Path:
    """The package's root in ``archive``, extracted safely into ``dest``."""
    try:
        extract_archive(archive, dest, PACKAGE_ARCHIVE_LIMITS)
    except SubmissionError as exc:  # links, '..', a bomb, not an archive: the package's fault
        raise PackageError(exc.message) from exc
    entries = list(dest.iterdir())
    if not (dest / MANIFEST).exists() and len(entries) == 1 and entries[0].is_dir():
        return entries[0]  # an archive of the package directory itself
    return dest


def _load_dir(root: Path, tmp: tempfile.TemporaryDirectory[str] | None) -> AssignmentPackage:
    from assay.grading.kinds import get_kind  # noqa: PLC0415 - kinds import this module

    manifest = root / MANIFEST
    if not manifest.is_file():
        raise PackageError(
            f"no {MANIFEST} in {'the archive' if tmp is not None else root}",
            fix="run `assay assignment init` or point at the package directory",
        )
    spec = parse_manifest(manifest.read_text(encoding="utf-8"))
    try:
        environment = get_environment(spec.assignment.environment)
    except UnknownEnvironmentError as exc:
        raise PackageError(
            exc.message,
            file=MANIFEST,
            key="assignment.environment",
            fix="use python3, c, cpp or java",
        ) from exc
    package = AssignmentPackage(
        root=root, spec=spec, statement="", environment=environment, _tmp=tmp
    )
    statement = package.path(
        spec.assignment.statement, key="assignment.statement", must_exist=False
    )
    package.statement = statement.read_text(encoding="utf-8") if statement.is_file() else ""
    for index, test in enumerate(spec.tests):
        kind = get_kind(test.kind, key=f"tests[{index}].kind")
        package.options[test.name] = kind.parse(test, package, key=f"tests[{index}]")
    hooks_file = package.path(spec.paths.hooks, key="paths.hooks", must_exist=False)
    if hooks_file.is_file():
        package.hooks = read_plan(hooks_file, spec.paths.hooks)
    for index, bad in enumerate(spec.known_bad):
        package.path(bad.path, key=f"known_bad[{index}].path")
    for key, limits in (("limits", spec.limits), ("build.limits", spec.build.limits)):
        try:
            limits.apply(environment.default_limits)
        except ConfigError as exc:
            raise PackageError(exc.message, file=MANIFEST, key=key) from exc
    return package
