"""Test kinds, looked up by the ``kind`` key of a ``[[tests]]`` entry."""

from __future__ import annotations

import importlib
import threading
from typing import Any

from assay.errors import PackageError
from assay.grading.kinds.base import KindOptions, TestKind

# name -> "module:Class"; imported on first use so a kind's dependencies load only when needed
KIND_CLASSES: dict[str, str] = {
    "io": "assay.grading.kinds.io:IoKind",
    "python-unittest": "assay.grading.kinds.pyspec:UnittestKind",
    "pytest": "assay.grading.kinds.pyspec:PytestKind",
    "asserts": "assay.grading.kinds.asserts:AssertsKind",
    "script": "assay.grading.kinds.script:ScriptKind",
    "valgrind": "assay.grading.kinds.valgrind:ValgrindKind",
    "gradescope": "assay.grading.kinds.gradescope:GradescopeKind",
    "dialogue": "assay.grading.kinds.dialogue:DialogueKind",
    "interactive": "assay.grading.kinds.interactive:InteractiveKind",
    "junit": "assay.grading.kinds.junit:JUnitKind",
    "student-tests": "assay.grading.kinds.student_tests:StudentTestsKind",
    "prairielearn": "assay.grading.kinds.prairielearn:PrairieLearnKind",
}

_loaded: dict[str, TestKind[Any]] = {}
_lock = threading.Lock()


def get_kind(name: str, *, key: str = "kind") -> TestKind[Any]:
    with _lock:
        if name not in _loaded:
            target = KIND_CLASSES.get(name)
            if target is None:
                raise PackageError(
                    f"unknown test kind {name!r}",
                    file="assignment.toml",
                    key=key,
                    fix="use one of: " + ", ".join(sorted(KIND_CLASSES)),
                )
            module_name, _, class_name = target.partition(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            _loaded[name] = cls()
        return _loaded[name]


__all__ = ["KIND_CLASSES", "KindOptions", "TestKind", "get_kind"]
