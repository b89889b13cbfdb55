"""The interface of a test kind: parse its options at load time, run at grading time.

A kind is a small plugin: ``Options`` (a pydantic model of the kind-specific
keys of a ``[[tests]]`` entry), ``check`` (load-time validation of the files
they name) and ``run`` (one or more ``TestOutcome``s). Kinds never raise for
a student's failure: that is an outcome. They raise ``AssayError`` only when
the infrastructure or the instructor's files fail.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from assay.errors import ConfigError, PackageError
from assay.grading.outcome import TestOutcome
from assay.grading.package import MANIFEST, validation_error

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec


class KindOptions(BaseModel):
    """Base of every kind's options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=KindOptions)


class TestKind(ABC, Generic[OptionsT]):
    __test__: ClassVar[bool] = False
    name: ClassVar[str]
    Options: type[OptionsT]

    def parse(self, test: TestSpec, package: AssignmentPackage, *, key: str) -> OptionsT:
        """Validate the entry's kind options; errors name ``tests[i].<key>``."""
        try:
            options = self.Options.model_validate(test.options)
        except ValidationError as exc:
            raise validation_error(exc, MANIFEST, prefix=key) from exc
        try:
            test.limits.apply(package.limits)
        except ConfigError as exc:
            raise PackageError(exc.message, file=MANIFEST, key=f"{key}.limits") from exc
        self.check(options, test, package, key=key)
        return options

    def check(
        self, options: OptionsT, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        """Load-time checks beyond the schema (files exist, programs parse)."""

    @abstractmethod
    def run(self, ctx: GradingContext, test: TestSpec, options: OptionsT) -> list[TestOutcome]:
        """Run the test against the built submission in ``ctx.sandbox``."""

    def concurrent_safe(self, options: OptionsT) -> bool:
        """Whether this test may run at the same time as others of the submission.

        Only tests that read nothing from and write nothing to the shared
        workspace (beyond their own run) may say yes.
        """
        return False

    def not_run(self, test: TestSpec, options: OptionsT, message: str) -> list[TestOutcome]:
        """The (skipped) outcomes of a test that is not run: the build or a dependency failed.

        ``message`` says why ("not run: ..."); a kind that yields several outcomes per
        test yields each of them, skipped, so the report lists the same rows either way.
        """
        return [TestOutcome.skipped(test, message)]
