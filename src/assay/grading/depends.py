"""Test dependencies (``depends = ["other test", ...]``), as check50's dependency chain.

A test whose dependency did not pass is not run: it is skipped, scores
nothing, and so are the tests that depend on it (transitively). Load time
checks that every name is a test of the package and that there is no cycle;
grading runs the tests in an order where each comes after its dependencies
(the manifest's order wherever that already holds) and reports them in the
manifest's order.
"""

from __future__ import annotations

from collections.abc import Sequence

from assay.errors import PackageError
from assay.grading.outcome import TestOutcome, TestStatus
from assay.grading.package import MANIFEST
from assay.grading.spec import TestSpec


def check_depends(tests: Sequence[TestSpec]) -> None:
    """Raise ``PackageError`` (naming ``tests[i].depends``) for an unknown name or a cycle."""
    index = {test.name: i for i, test in enumerate(tests)}
    for i, test in enumerate(tests):
        for name in test.depends:
            if name == test.name:
                raise PackageError(
                    f"test {test.name!r} depends on itself",
                    file=MANIFEST,
                    key=f"tests[{i}].depends",
                    fix="remove its own name from depends",
                )
            if name not in index:
                known = ", ".join(repr(t.name) for t in tests[:10])
                raise PackageError(
                    f"test {test.name!r} depends on {name!r}, which is not a test of this package",
                    file=MANIFEST,
                    key=f"tests[{i}].depends",
                    fix=f"name one of the [[tests]] entries ({known})",
                )
    cycle = _cycle(tests, index)
    if cycle:
        first = index[cycle[0]]
        raise PackageError(
            "the tests' dependencies form a cycle: " + " -> ".join(repr(n) for n in cycle),
            file=MANIFEST,
            key=f"tests[{first}].depends",
            fix="remove one of these dependencies",
        )


def _cycle(tests: Sequence[TestSpec], index: dict[str, int]) -> list[str]:
    """A dependency cycle as a list of names (its first name repeated at the end), or []."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in tests:
        if start.name in state:
            continue
        path: list[str] = [start.name]
        stack = [iter(start.depends)]
        state[start.name] = 1
        while stack:
            name = next(stack[-1], None)
            if name is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(name) == 1:
                return [*path[path.index(name) :], name]
            elif name not in state:
                state[name] = 1
                path.append(name)
                stack.append(iter(tests[index[name]].depends))
    return []


def run_order(tests: Sequence[TestSpec]) -> list[TestSpec]:
    """``tests`` with each after its dependencies, otherwise in the manifest's order."""
    done: set[str] = set()
    order: list[TestSpec] = []
    pending = list(tests)
    while pending:
        ready = next((t for t in pending if done.issuperset(t.depends)), None)
        if ready is None:  # a cycle: load time refuses it; never loop forever
            ready = pending[0]
        pending.remove(ready)
        order.append(ready)
        done.add(ready.name)
    return order


def passed(outcomes: Sequence[TestOutcome]) -> bool:
    """A test passed when every outcome it yielded passed (and it yielded one)."""
    return bool(outcomes) and all(o.status is TestStatus.PASSED for o in outcomes)


def blocked_by(test: TestSpec, results: dict[str, list[TestOutcome]]) -> str | None:
    """The "not run: ..." message if a dependency of ``test`` did not pass, else ``None``."""
    for name in test.depends:
        outcomes = results.get(name, [])
        if passed(outcomes):
            continue
        if outcomes and all(o.status is TestStatus.SKIPPED for o in outcomes):
            return f"not run: depends on {name}, which was not run"
        return f"not run: depends on {name}, which failed"
    return None
