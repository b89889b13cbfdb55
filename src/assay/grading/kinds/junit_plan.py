"""The ``junit`` kind's options and plan: which test methods, their names, points and visibility.

Everything here is decided on the host from ``assignment.toml`` and the
instructor's sources (``junit_source``), at load time: a weight or a
visibility naming a method that does not exist is a package error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TypeVar

from pydantic import Field, PrivateAttr, field_validator

from assay.errors import PackageError, WorkspacePathError
from assay.grading.kinds.base import KindOptions
from assay.grading.kinds.junit_source import JavaClass, JavaSourceError, JavaTest, scan
from assay.grading.package import MANIFEST, AssignmentPackage
from assay.grading.spec import TestSpec, Visibility
from assay.sandbox.hostfiles import normalise_workspace_path

_V = TypeVar("_V")

# Gradescope's visibility values (jh61b's @GradedTest) and Assay's own
VISIBILITIES = {
    "visible": Visibility.VISIBLE,
    "hidden": Visibility.HIDDEN,
    "after_due_date": Visibility.AFTER_DUE,
    "after_due": Visibility.AFTER_DUE,
    "after_published": Visibility.HIDDEN,  # Assay has no "published" moment
}
_STRICTNESS = (Visibility.VISIBLE, Visibility.AFTER_DUE, Visibility.HIDDEN)


@dataclass(frozen=True)
class PlannedTest:
    key: str  # ``pkg.Class#method``, as the runner reports it
    name: str  # shown in the report
    weight: float
    visibility: Visibility


class JUnitOptions(KindOptions):
    sources: tuple[str, ...] = Field(min_length=1)  # the instructor's .java files, in the package
    classpath: tuple[str, ...] = (".",)  # workspace folders or jars of the student's classes
    per_test_timeout_s: float = Field(default=10.0, gt=0, le=600)
    startup_timeout_s: float = Field(default=30.0, gt=0, le=600)  # JVM start, class set-up
    # by "method", "Class.method" or "pkg.Class.method"; these tables win over annotations
    weights: dict[str, float] = Field(default_factory=dict)  # relative weights
    visibilities: dict[str, str] = Field(default_factory=dict)  # Assay's or Gradescope's values
    numbers: dict[str, str] = Field(default_factory=dict)  # "1.2": before the name, orders rows
    jvm_options: tuple[str, ...] = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
    _plan: tuple[PlannedTest, ...] = PrivateAttr(default=())
    _classes: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("classpath")
    @classmethod
    def _workspace_paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return tuple(normalise_workspace_path(v) for v in value)
        except WorkspacePathError as exc:
            raise ValueError(exc.message) from exc

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if not weight >= 0 or weight == float("inf"):
                raise ValueError(f"the weight of {name!r} must be a number >= 0")
        return value

    @field_validator("visibilities")
    @classmethod
    def _known_visibility(cls, value: dict[str, str]) -> dict[str, str]:
        for name, visibility in value.items():
            if visibility not in VISIBILITIES:
                raise ValueError(
                    f"the visibility of {name!r} is {visibility!r}: use one of "
                    + ", ".join(VISIBILITIES)
                )
        return value

    @field_validator("jvm_options")
    @classmethod
    def _options_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for option in value:
            if not option.startswith("-") or option in ("-cp", "-classpath", "-jar"):
                raise ValueError(f"{option!r}: only JVM options (-X..., -D...), no class path")
        return value


def load_plan(
    options: JUnitOptions, test: TestSpec, package: AssignmentPackage, *, key: str
) -> tuple[tuple[PlannedTest, ...], tuple[str, ...]]:
    """The planned tests and the classes to run, or a ``PackageError`` naming the key."""
    tests: list[JavaTest] = []
    classes: list[JavaClass] = []
    names: set[str] = set()
    for index, rel in enumerate(options.sources):
        where = f"{key}.sources[{index}]"
        if PurePosixPath(rel).name in names:
            raise PackageError(
                f"two sources are named {PurePosixPath(rel).name!r}",
                file=MANIFEST,
                key=where,
                fix="give every test source its own file name (they are compiled side by side)",
            )
        names.add(PurePosixPath(rel).name)
        path = package.path(rel, key=where)
        if not path.is_file() or path.suffix != ".java":
            raise PackageError(f"{rel!r} is not a .java file", file=MANIFEST, key=where)
        try:
            found = scan(path.read_text(encoding="utf-8"), PurePosixPath(rel).as_posix())
        except (JavaSourceError, UnicodeDecodeError) as exc:
            raise PackageError(
                f"the test source cannot be read: {exc}", file=rel, key=where
            ) from exc
        abstract = {c.name for c in found.classes if c.abstract}
        tests.extend(t for t in found.tests if t.class_name not in abstract)
        classes.extend(c for c in found.classes if not c.abstract)
    if not tests:
        raise PackageError(
            "no test methods found in the sources",
            file=MANIFEST,
            key=f"{key}.sources",
            fix="annotate test methods with @Test (org.junit.Test or org.junit.jupiter.api.Test) "
            "in concrete (not abstract) classes",
        )
    seen: set[str] = set()
    unique = []
    for t in tests:  # an overloaded name is one test: JUnit reports it under one name
        if t.key not in seen:
            seen.add(t.key)
            unique.append(t)
    weights = _by_test(options.weights, unique, f"{key}.weights")
    visibilities = _by_test(options.visibilities, unique, f"{key}.visibilities")
    numbers = _by_test(options.numbers, unique, f"{key}.numbers")
    any_weight = bool(weights) or any(t.annotation("GradedTest") for t in unique)
    shown = _names(unique, numbers)
    plan = [
        PlannedTest(
            key=t.key,
            name=shown[t.key],
            weight=_weight(t, weights, key, default=0.0 if any_weight else 1.0),
            visibility=_stricter(
                test.visibility,
                VISIBILITIES[visibilities[t.key]]
                if t.key in visibilities
                else _visibility(t, test, key),
            ),
        )
        for t in unique
    ]
    if test.points and not sum(p.weight for p in plan):
        raise PackageError(
            "the weights of the tests add up to 0",
            file=MANIFEST,
            key=f"{key}.weights",
            fix="give at least one test a weight above 0 (or set the entry's points to 0)",
        )
    order = {t.key: _number_order(numbers.get(t.key) or _number(t)) for t in unique}
    plan.sort(key=lambda p: order[p.key])  # numbered first, by number; the rest as written
    return tuple(plan), tuple(dict.fromkeys(c.name for c in classes))


def _stricter(entry: Visibility, own: Visibility) -> Visibility:
    return max(entry, own, key=_STRICTNESS.index)


def _number(t: JavaTest) -> str:
    graded = t.annotation("GradedTest")
    number = graded.values.get("number") if graded else None
    if isinstance(number, float):
        return f"{number:g}"
    return number.strip() if isinstance(number, str) else ""


def _number_order(number: str) -> tuple[int, tuple[int | str, ...]]:
    """``1.2`` before ``1.10``; unnumbered tests after every numbered one (stable sort)."""
    if not number:
        return (1, ())
    return (0, tuple(int(p) if p.isdigit() else p for p in number.split(".")))


def _by_test(values: dict[str, _V], tests: list[JavaTest], key: str) -> dict[str, _V]:
    """``values`` keyed by the runner's test keys; names must match one test each."""
    found: dict[str, _V] = {}
    for name, value in values.items():
        matches = [t for t in tests if name in (t.method, t.short, t.dotted, t.key)]
        if len(matches) != 1:
            known = ", ".join(sorted(t.short for t in tests)[:20])
            problem = "names no test method" if not matches else "names more than one test"
            raise PackageError(
                f"{name!r} {problem}",
                file=MANIFEST,
                key=f"{key}.{name}",
                fix=f"use Class.method (or package.Class.method); the tests are: {known}",
            )
        found[matches[0].key] = value
    return found


def _weight(t: JavaTest, weights: dict[str, float], key: str, *, default: float) -> float:
    """The toml weight, else ``@GradedTest``'s max_score (1 if not given, as jh61b), else
    ``default``: 0 when other tests have weights (as on Gradescope), else 1."""
    if t.key in weights:
        return weights[t.key]
    graded = t.annotation("GradedTest")
    if graded is None:
        return default
    value = graded.values.get("max_score", 1.0)
    if not isinstance(value, float) or value < 0:
        raise PackageError(
            f"@GradedTest max_score of {t.short} is not a number >= 0",
            file=f"{t.class_name}:{t.line}",
            key=f"{key}.sources",
        )
    return value


def _visibility(t: JavaTest, test: TestSpec, key: str) -> Visibility:
    graded = t.annotation("GradedTest")
    value = graded.values.get("visibility") if graded is not None else None
    if value is None:
        return test.visibility
    if not isinstance(value, str) or value not in VISIBILITIES:
        raise PackageError(
            f"@GradedTest visibility of {t.short} is {value!r}",
            file=f"{t.class_name}:{t.line}",
            key=f"{key}.sources",
            fix="use one of: " + ", ".join(VISIBILITIES),
        )
    return VISIBILITIES[value]


def _names(tests: list[JavaTest], numbers: dict[str, str]) -> dict[str, str]:
    """``@GradedTest`` name, else ``@DisplayName``, else the method (``Class.method`` if
    two classes share it); the number (toml, else ``@GradedTest``) goes first."""
    counts: dict[str, int] = {}
    for t in tests:
        counts[t.method] = counts.get(t.method, 0) + 1
    names: dict[str, str] = {}
    for t in tests:
        graded = t.annotation("GradedTest")
        display = t.annotation("DisplayName")
        name: str | float | None = graded.values.get("name") if graded else None
        if not name and display is not None:
            name = display.values.get("value")
        if not isinstance(name, str) or not name.strip():
            name = t.method if counts[t.method] == 1 else t.short
        number = numbers.get(t.key) or _number(t)
        if number:
            name = f"{number.strip()} {name.strip()}"
        names[t.key] = name.strip()[:150]
    return names
