"""Decorators that attach Gradescope attributes to unittest test methods.

``weight(points)``: full points when the test passes, none when it fails.
``partial_credit(points)``: the test receives ``set_score`` and sets its own score.
``visibility(value)``, ``number(value)``, ``tags(*names)``: shown as written.
"""

import functools

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def _mark(func, **attributes):
    for key, value in attributes.items():
        setattr(func, f"__gs_{key}__", value)
    return func


def weight(points):
    return lambda func: _mark(func, weight=float(points))


def visibility(value):
    if value not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}")
    return lambda func: _mark(func, visibility=value)


def number(value):
    return lambda func: _mark(func, number=str(value))


def tags(*names):
    return lambda func: _mark(func, tags=list(names))


def partial_credit(points):
    """The test's score is whatever it passes to ``set_score`` (0 if it never does)."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(self):
            def set_score(score):
                wrapper.__gs_score__ = float(score)

            wrapper.__gs_score__ = 0.0
            return func(self, set_score)

        return _mark(wrapper, weight=float(points), partial=True)

    return decorate
