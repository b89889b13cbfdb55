"""The schema of ``assignment.toml`` (pydantic at the edge, frozen models).

Every table forbids unknown keys, so a typo is an error that names the key
instead of a setting silently ignored. Kind-specific test options are kept
in ``TestSpec.options`` and validated by the kind's own model
(``assay.grading.kinds``).
"""

from __future__ import annotations

import shlex
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay.sandbox.envs.spec import EnvironmentSpec
from assay.sandbox.limitspec import LimitsSpec

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class Visibility(StrEnum):
    """Who sees a test's details: always, never (only pass/fail), or after the deadline."""

    VISIBLE = "visible"
    HIDDEN = "hidden"
    AFTER_DUE = "after_due"


class StaticEffect(StrEnum):
    """What a static-check violation does to the grade."""

    FAIL_TESTS = "fail_tests"  # the listed tests (default: all) score 0
    DEDUCT = "deduct"  # subtract ``deduct_points`` per violating name
    FAIL_SUBMISSION = "fail_submission"  # the whole submission scores 0


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Command = tuple[str, ...]


def split_command(value: Any) -> Any:
    """A command is an argv list; a string is split like a shell would (no shell runs)."""
    if isinstance(value, str):
        parts = shlex.split(value)
        if not parts:
            raise ValueError("a command must not be empty")
        return tuple(parts)
    return value


class AssignmentMeta(Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    title: Annotated[str, Field(max_length=200)] = ""  # the database's column holds 200
    statement: str = "statement.md"  # a Markdown file of the package
    environment: str = "python3"
    version: str = "1"


class PathsSpec(Strict):
    """Where the package keeps its parts (directories relative to the package)."""

    starter: str = "starter"  # given to students
    solution: str = "solution"  # the reference solution: must get full marks
    support: str = "support"  # instructor files copied read-only into the workspace
    hooks: str = "grader.py"


class BuildSpec(Strict):
    commands: tuple[Command, ...] = ()
    required_files: tuple[str, ...] = ()  # the submission must contain these
    limits: LimitsSpec = LimitsSpec()
    timeout_is_failure: bool = True

    @field_validator("commands", mode="before")
    @classmethod
    def _commands(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        return tuple(split_command(v) for v in value) if isinstance(value, list | tuple) else value


class RunSpecDefaults(Strict):
    """How the student's program is started by io-style tests."""

    command: Command | None = None

    @field_validator("command", mode="before")
    @classmethod
    def _cmd(cls, value: Any) -> Any:
        return split_command(value)


class StaticSpec(Strict):
    """Blacklisted / whitelisted functions and imports (picobytes)."""

    blacklist: tuple[str, ...] = ()
    whitelist: tuple[str, ...] = ()  # when set, only these library names may be used
    effect: StaticEffect = StaticEffect.FAIL_SUBMISSION
    deduct_points: float = Field(default=1.0, ge=0)
    tests: tuple[str, ...] = ()  # for fail_tests: which tests (default: all)
    files: tuple[str, ...] = ()  # glob patterns of student files to check (default: by language)

    @property
    def enabled(self) -> bool:
        return bool(self.blacklist or self.whitelist)


class TestSpec(BaseModel):
    """One ``[[tests]]`` entry: common fields plus the kind's own options."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __test__: ClassVar[bool] = False  # not a pytest test class

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: str = "io"
    points: float = Field(default=1.0, ge=0)
    visibility: Visibility = Visibility.VISIBLE
    group: str = ""
    limits: LimitsSpec = LimitsSpec()
    # tests that must pass for this one to run (else it is skipped); see grading.depends
    depends: tuple[str, ...] = ()

    @field_validator("depends", mode="before")
    @classmethod
    def _depends(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @property
    def options(self) -> dict[str, Any]:
        """The kind-specific keys of this entry."""
        return dict(self.model_extra or {})


class Expect(StrEnum):
    """How a known-bad submission must fail: the first test it does not pass (in the
    manifest's order; skipped tests aside) ends so, or its build fails."""

    WRONG = "wrong"  # a wrong answer (status failed)
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    BUILD_FAILED = "build_failed"


class KnownBad(Strict):
    """A wrong submission kept with the package; ``check`` proves it loses points."""

    path: str
    score: float | None = None  # the exact score it must get, if given
    expect: Expect | None = None  # how it must fail, if given
    why: str = ""


class KnownGood(Strict):
    """Another right submission kept with the package; ``check`` proves it gets full marks."""

    path: str
    why: str = ""


class AssignmentSpec(Strict):
    assignment: AssignmentMeta
    # The package's own environment (docs/environments.md); else assignment.environment.
    environment: EnvironmentSpec | None = None
    paths: PathsSpec = PathsSpec()
    limits: LimitsSpec = LimitsSpec()
    build: BuildSpec = BuildSpec()
    run: RunSpecDefaults = RunSpecDefaults()
    static: StaticSpec = StaticSpec()
    tests: tuple[TestSpec, ...] = ()
    known_bad: tuple[KnownBad, ...] = ()
    known_good: tuple[KnownGood, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> AssignmentSpec:
        seen: set[str] = set()
        for test in self.tests:
            if test.name in seen:
                raise ValueError(f"two tests are named {test.name!r}; test names must be unique")
            seen.add(test.name)
        return self
