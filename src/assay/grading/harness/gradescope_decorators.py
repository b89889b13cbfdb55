"""Assay's own ``gradescope_utils.autograder_utils.decorators`` for spec tests.

The host writes this file into the spec runner's harness directory as
``lib/gradescope_utils/autograder_utils/decorators.py``, first on the spec's
``sys.path``, so a spec written for Gradescope imports it unchanged::

    from gradescope_utils.autograder_utils.decorators import weight, partial_credit

The decorators only mark functions, with the same attributes as Gradescope's
(``__weight__``, ``__visibility__``, ``__number__``, ``__tags__``,
``__hide_errors__``, ``__leaderboard_column__``). Assay never reads those
attributes: the student's code runs in the same process and could change
them. The host reads the decorators from the spec's source instead. What only
a run can tell, the score a ``partial_credit`` test sets, is kept here with
the file of the code that set it, and read by the runner after the test
(``recorded_scores``): the runner takes only scores set by the spec's files.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

F = Callable[..., Any]

# what ``set_score`` was given in this test process, with the caller's file
_recorded: list[tuple[object, str]] = []


def recorded_scores() -> list[tuple[object, str]]:
    """Every ``(value, file of the caller)`` a partial-credit test set, in order."""
    return list(_recorded)


def reset_score() -> None:
    _recorded.clear()


def _set_score(value: object) -> None:
    _recorded.append((value, sys._getframe(1).f_code.co_filename))


class _Mark:
    attribute = ""

    def __init__(self, value: object) -> None:
        self.value = value

    def __call__(self, func: F) -> F:
        setattr(func, self.attribute, self.value)
        return func


class weight(_Mark):  # noqa: N801 - Gradescope's names
    """``@weight(3.0)``: the test's points."""

    attribute = "__weight__"


class visibility(_Mark):  # noqa: N801
    """``@visibility("hidden")``: visible, hidden, after_due_date or after_published."""

    attribute = "__visibility__"


class number(_Mark):  # noqa: N801
    """``@number("1.2")``: the test's number, which orders the report."""

    attribute = "__number__"

    def __init__(self, value: object) -> None:
        super().__init__(str(value))


class hide_errors(_Mark):  # noqa: N801
    """``@hide_errors("message")``: show this message instead of the failure's."""

    attribute = "__hide_errors__"

    def __init__(self, value: str = "Test failed") -> None:
        super().__init__(value)


class tags(_Mark):  # noqa: N801
    """``@tags("loops", "strings")``."""

    attribute = "__tags__"

    def __init__(self, *values: str) -> None:
        super().__init__(values)


class leaderboard:  # noqa: N801
    """``@leaderboard("column")``: the test may call ``set_leaderboard_value(x)``.

    Assay has no leaderboard: the value is accepted and not used.
    """

    def __init__(self, column_name: str, sort_order: str = "desc") -> None:
        self.column_name, self.sort_order = column_name, sort_order

    def __call__(self, func: F) -> F:
        func.__leaderboard_column__ = self.column_name  # type: ignore[attr-defined]
        func.__leaderboard_sort_order__ = self.sort_order  # type: ignore[attr-defined]

        def set_leaderboard_value(value: object) -> None:
            wrapper.__leaderboard_value__ = value  # type: ignore[attr-defined]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs["set_leaderboard_value"] = set_leaderboard_value
            return func(*args, **kwargs)

        return wrapper


class partial_credit:  # noqa: N801
    """``@partial_credit(4)``: the test calls ``set_score(x)`` with its score, 0..4.

    Without a call the test scores its weight if it passed, else 0, as on Gradescope.
    """

    def __init__(self, weight: object) -> None:
        self.weight = weight

    def __call__(self, func: F) -> F:
        func.__weight__ = self.weight  # type: ignore[attr-defined]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs["set_score"] = _set_score
            return func(*args, **kwargs)

        wrapper.__weight__ = self.weight  # type: ignore[attr-defined]
        return wrapper
