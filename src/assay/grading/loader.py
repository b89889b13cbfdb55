"""Loading a package: a directory (or an archive of one) into a validated ``AssignmentPackage``.

``load_package`` validates everything it can before any student code runs:
the TOML, every table and key, the environment, each test's kind options
(through the kinds, which is why loading lives here and not in ``package``:
the kinds build on the package type), ``grader.py``'s plan and the files
they name. Errors name the file, the key and the fix.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from assay.errors import (
    ConfigError,
    EnvironmentSpecError,
    PackageError,
    SubmissionError,
    UnknownEnvironmentError,
)
from assay.grading.archive import extract_archive, is_archive
from assay.grading.depends import check_depends
from assay.grading.hookplan import read_plan
from assay.grading.kinds import get_kind
from assay.grading.package import (
    MANIFEST,
    PACKAGE_ARCHIVE_LIMITS,
    AssignmentPackage,
    parse_manifest,
)
from assay.grading.spec import AssignmentSpec
from assay.sandbox.environments import Environment, get_environment
from assay.sandbox.envs.spec import SPEC_FILE, SpecSource, load_spec


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
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise PackageError(
            f"no {MANIFEST} in {'the archive' if tmp is not None else root}",
            fix="run `assay assignment init` or point at the package directory",
        )
    spec = parse_manifest(manifest.read_text(encoding="utf-8"))
    return _validated(root, spec, tmp)


def package_from_spec(spec: AssignmentSpec, root: str | Path) -> AssignmentPackage:
    """A package built in memory: ``spec`` instead of ``root``'s ``assignment.toml``.

    ``root`` holds the package's other files (support files, statement); nothing is
    read from a manifest. Validated like ``load_package`` (environment, kinds'
    options, hooks, limits); the caller owns ``root``.
    """
    return _validated(Path(root).resolve(), spec, None)


def package_environment(root: Path, spec: AssignmentSpec) -> Environment:
    """The environment a package grades in: its ``[environment]`` table, an
    ``environment.toml`` beside ``assignment.toml``, or the built-in that
    ``assignment.environment`` names (python3 by default). Planning reads the files
    the spec names (a setup script, files) from the package; nothing is built here."""
    beside = root / SPEC_FILE
    named = "environment" in spec.assignment.model_fields_set
    own = "[environment]" if spec.environment is not None else None
    if beside.is_file():
        if own is not None:
            raise PackageError(
                f"both an [environment] table and {SPEC_FILE} declare the environment",
                file=MANIFEST,
                key="environment",
                fix="keep one of them",
            )
        own = SPEC_FILE
    if own is not None and named:
        raise PackageError(
            f"assignment.environment names a built-in environment and {own} declares the "
            "package's own",
            file=MANIFEST,
            key="assignment.environment",
            fix=f'remove it, and write base = "{spec.assignment.environment}" in {own} to '
            "build on that built-in",
        )
    try:
        if spec.environment is not None:
            source = SpecSource(spec.environment, root, f"{MANIFEST} [environment]")
            return Environment.from_source(source)
        if own is not None:
            return Environment.from_source(load_spec(beside))
        return get_environment(spec.assignment.environment)
    except EnvironmentSpecError as exc:
        raise PackageError(exc.message, fix="see docs/environments.md") from exc
    except UnknownEnvironmentError as exc:
        raise PackageError(
            exc.message,
            file=MANIFEST,
            key="assignment.environment" if own is None else "environment.base",
            fix="name a built-in environment (`assay env list`), or declare the package's own "
            "in an [environment] table",
        ) from exc


def _validated(
    root: Path, spec: AssignmentSpec, tmp: tempfile.TemporaryDirectory[str] | None
) -> AssignmentPackage:
    environment = package_environment(root, spec)
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
    check_depends(spec.tests)
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
