"""Assay's own implementation of what a PrairieLearn Python question's ``test.py`` imports.

PrairieLearn's Python autograder (image ``prairielearn/grader-python``) gives a
question's tests four modules: ``code_feedback`` (``Feedback``), ``pl_helpers``
(``points``, ``name``, ...), ``pl_unit_test`` (``PLTestCase``) and ``pl_execute``
(``execute_code``). The ``prairielearn`` kind puts shims of those names in the
sandbox, each re-exporting this module, so a question's ``test.py`` runs unchanged.

The behaviour follows PrairieLearn's documentation and grader: the setup code runs
first; the reference answer runs in a namespace with every setup name, the
student's code in one that holds only copies of ``names_for_user``; both run with
the same random seed; a test scores ``points x`` the last ``Feedback.set_score``
(0 when never called, as in PrairieLearn); ``Feedback.finish`` stops grading (the
tests after it score 0) and ``Feedback.finish_test`` ends one test. Runs inside
the student's sandbox, started by ``pl_runner.py``; nothing here is trusted by
the host beyond that runner's authenticated channel.
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import os
import random
import sys
import traceback
import unittest
from collections.abc import Callable
from types import ModuleType
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")
STUDENT_FILE = "user_code.py"
FEEDBACK_LIMIT = 64 * 1024


class GradingComplete(Exception):  # noqa: N818 - PrairieLearn's name
    """Grading stops here: the tests after this one score 0."""


class TestComplete(Exception):  # noqa: N818 - PrairieLearn's name
    """This test ends here; the next ones still run."""

    __test__ = False


class DoNotRunError(Exception):
    pass


class GradingSkipped(Exception):  # noqa: N818 - PrairieLearn's name
    pass


class UserCodeFailedError(Exception):
    """The student's code raised while it was loaded."""

    def __init__(self, err: tuple[Any, Any, Any]) -> None:
        self.err = err
        super().__init__(err[1])


# -- Feedback -----------------------------------------------------------------------------
class Feedback:
    """Feedback text and the score of the test being run (a fraction 0..1)."""

    test: Any = None
    test_name: str | None = None
    buffer = ""
    text: list[str] = []  # noqa: RUF012 - one list per process, as PrairieLearn's files
    prefix_message = "\nFeedback for case %d\n---------------------\n"

    @classmethod
    def reset(cls) -> None:
        cls.text = []
        cls.buffer = ""

    @classmethod
    def collected(cls) -> str:
        return "".join(cls.text)[:FEEDBACK_LIMIT]

    @classmethod
    def set_name(cls, name: str) -> None:
        cls.test_name = name
        cls.buffer = ""

    @classmethod
    def set_main_output(cls) -> None:
        cls.test_name = "output"
        cls.buffer = ""

    @classmethod
    def set_test(cls, test: Any) -> None:
        cls.test = test

    @classmethod
    def set_score(cls, score: float) -> None:
        """The test's score, clamped to 0..1 (multiplied by its points)."""
        cls.test.points = min(1.0, max(0.0, float(score)))

    @classmethod
    def add_iteration_prefix(cls, iter_prefix: int) -> None:
        cls.buffer = cls.prefix_message % iter_prefix

    @classmethod
    def clear_iteration_prefix(cls) -> None:
        cls.buffer = ""

    @classmethod
    def add_feedback(cls, text: str) -> None:
        if sum(len(t) for t in cls.text) < FEEDBACK_LIMIT:
            cls.text.append(f"{cls.buffer}{text}\n")
        cls.buffer = ""

    @classmethod
    def finish(cls, fb_text: str) -> NoReturn:
        cls.add_feedback(fb_text)
        raise GradingComplete

    @classmethod
    def finish_test(cls, fb_text: str) -> NoReturn:
        cls.add_feedback(fb_text)
        raise TestComplete

    @staticmethod
    def not_allowed(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise RuntimeError("The use of this function is not allowed.")

    @classmethod
    def _bad(cls, message: str, *, report: bool, critical: bool) -> bool:
        if report:
            cls.add_feedback(message)
        if critical:
            cls.finish("")
        return False

    @classmethod
    def _reporter(cls, report_failure: bool, accuracy_critical: bool) -> Callable[[str], bool]:
        """``bad(message)`` of a check: the failure's feedback (and stop when critical)."""
        return functools.partial(cls._bad, report=report_failure, critical=accuracy_critical)

    @classmethod
    def _good(cls, name: str, *, report: bool) -> bool:
        if report:
            cls.add_feedback(f"'{name}' looks good")
        return True

    @classmethod
    def check_numpy_array_sanity(cls, name: str, num_axes: int, data: Any) -> None:
        np = _numpy()

        if data is None:
            cls.finish(f"'{name}' is None or not defined")
        if not isinstance(data, np.ndarray):
            cls.finish(f"'{name}' is not a numpy array")
        if isinstance(data, np.matrix):
            cls.finish(f"'{name}' is a numpy matrix. Do not use those. bit.ly/array-vs-matrix")
        if len(data.shape) != num_axes:
            cls.finish(f"'{name}' does not have the correct number of axes--got: {len(data.shape)}")
        if data.dtype.kind not in "fc":
            cls.finish(f"'{name}' does not consist of floating point numbers--got: {data.dtype}")

    @classmethod
    def check_numpy_array_features(  # noqa: PLR0917 - PrairieLearn's signature
        cls,
        name: str,
        ref: Any,
        data: Any,
        accuracy_critical: bool = False,
        report_failure: bool = True,
        report_success: bool = True,
    ) -> bool | None:
        np = _numpy()

        bad = cls._reporter(report_failure, accuracy_critical)
        if problem := _absent(
            f"'{name}'", data, lambda d: isinstance(d, np.ndarray), "a numpy array"
        ):
            return bad(problem)
        if isinstance(data, np.matrix):
            return bad(f"'{name}' is a numpy matrix. Do not use those. bit.ly/array-vs-matrix")
        if ref.shape != data.shape:
            return bad(f"'{name}' does not have correct shape--got: '{data.shape}', "
                       f"expected: '{ref.shape}'")  # fmt: skip
        if ref.dtype.kind == "f" and data.dtype.kind not in "fc":
            return bad(f"'{name}' does not have correct data type--got: '{data.dtype}', "
                       f"expected: '{ref.dtype}'")  # fmt: skip
        if ref.dtype.kind == "c" and data.dtype.kind != "c":
            return bad(f"'{name}' does not have correct data type--got: '{data.dtype}', "
                       f"expected: '{ref.dtype}'")  # fmt: skip
        if report_success:
            cls.add_feedback(f"'{name}' has correct shape and data type")
        return True

    @classmethod
    def check_numpy_array_allclose(  # noqa: PLR0917 - PrairieLearn's signature
        cls,
        name: str,
        ref: Any,
        data: Any,
        accuracy_critical: bool = False,
        rtol: float = 1e-05,
        atol: float = 1e-08,
        report_success: bool = True,
        report_failure: bool = True,
    ) -> bool:
        np = _numpy()

        if not cls.check_numpy_array_features(
            name, ref, data, accuracy_critical, report_failure, report_success=False
        ):
            return False
        good = bool(np.allclose(ref, data, rtol=rtol, atol=atol))
        if not good and report_failure:
            cls.add_feedback(f"'{name}' is inaccurate")
        elif good and report_success:
            cls.add_feedback(f"'{name}' looks good")
        if accuracy_critical and not good:
            raise GradingComplete("Inaccurate, grading halted")
        return good

    @classmethod
    def check_list(  # noqa: PLR0917 - PrairieLearn's signature
        cls,
        name: str,
        ref: list[Any],
        data: Any,
        entry_type: Any = None,
        accuracy_critical: bool = False,
        report_failure: bool = True,
        report_success: bool = True,
    ) -> bool:
        """Length (and entry type) only, as PrairieLearn's: values are not compared."""

        bad = cls._reporter(report_failure, accuracy_critical)
        if problem := _absent(f"'{name}'", data, lambda d: isinstance(d, list), "a list"):
            return bad(problem)
        if len(ref) != len(data):
            return bad(f"'{name}' has the wrong length--expected {len(ref)}, got {len(data)}")
        if entry_type is not None:
            for index, entry in enumerate(data):
                if not isinstance(entry, entry_type):
                    return bad(f"'{name}[{index}]' has the wrong type")
        return cls._good(name, report=report_success)

    @classmethod
    def check_dict(
        cls,
        name: str,
        ref: dict[Any, Any],
        data: Any,
        *,
        target_keys: list[Any] | set[Any] | None = None,
        accuracy_critical: bool = False,
        report_failure: bool = True,
        report_success: bool = True,
    ) -> bool:
        bad = cls._reporter(report_failure, accuracy_critical)
        if not isinstance(data, dict):
            return bad(f"'{name}' is not a dict, got type {type(data).__name__}")
        if target_keys is not None and not all(key in ref for key in target_keys):
            raise ValueError("target_keys must be a subset of the reference dict keys")
        keys = list(ref) if target_keys is None else list(target_keys)
        missing = set(keys) - set(data)
        if missing:
            return bad(f"'{name}' has missing keys: `{', '.join(sorted(map(str, missing)))}`")
        extra = set(data) - set(keys)
        if target_keys is None and extra:
            return bad(f"'{name}' has extra keys: `{', '.join(sorted(map(str, extra)))}`")
        for key in keys:
            if type(ref[key]) is not type(data[key]):
                return bad(f"'{name}' has key `{key}` with type `{type(data[key]).__name__}`, "
                           "which is not the right type")  # fmt: skip
            if ref[key] != data[key]:
                return bad(f"'{name}' has key `{key}` with value `{data[key]}`, "
                           "which is not correct")  # fmt: skip
        return cls._good(name, report=report_success)

    @classmethod
    def check_tuple(  # noqa: PLR0917 - PrairieLearn's signature
        cls,
        name: str,
        ref: tuple[Any, ...],
        data: Any,
        accuracy_critical: bool = False,
        report_failure: bool = True,
        report_success: bool = True,
    ) -> bool:
        bad = cls._reporter(report_failure, accuracy_critical)
        if problem := _absent(name, data, lambda d: isinstance(d, tuple), "a tuple"):
            return bad(problem)
        if len(data) != len(ref):
            return bad(f"{name} should be of length {len(ref)}")
        good = True
        for index, (mine, theirs) in enumerate(zip(data, ref, strict=True)):
            if type(mine) is not type(theirs):
                good = False
                if report_failure:
                    cls.add_feedback(f"{name}[{index}] should be of type {type(theirs).__name__}")
            elif mine != theirs:
                good = False
        if not good:
            return bad(f"'{name}' is inaccurate")
        return cls._good(name, report=report_success)

    @classmethod
    def check_scalar(  # noqa: PLR0917 - PrairieLearn's signature
        cls,
        name: str,
        ref: Any,
        data: Any,
        accuracy_critical: bool = False,
        rtol: float | None = 1e-5,
        atol: float | None = 1e-8,
        report_success: bool = True,
        report_failure: bool = True,
    ) -> bool:
        """Close to ``ref``: ``|ref - data| < |ref| rtol`` or ``< atol``."""

        bad = cls._reporter(report_failure, accuracy_critical)
        if problem := _absent(f"'{name}'", data, _is_number, "a number"):
            return bad(problem)
        good = rtol is not None and abs(ref - data) < abs(ref) * rtol
        good = good or (atol is not None and abs(ref - data) < atol)
        if not good:
            return bad(f"'{name}' is inaccurate")
        return cls._good(name, report=report_success)

    @classmethod
    def call_user(cls, f: Any, *args: Any, stop_on_exception: bool = True, **kwargs: Any) -> Any:
        """Call the student's ``f``; an exception is feedback and a score of 0."""
        try:
            return f(*args, **kwargs)
        except Exception as exc:
            if callable(f):
                cls.add_feedback(
                    f"The callable '{getattr(f, '__name__', '?')}' supplied in your code failed "
                    "with an exception while it was being called by the grading code:"
                    + traceback.format_exc()
                )
            else:
                cls.add_feedback(
                    "Your code was supposed to supply a function or callable, but the "
                    "variable you supplied was not callable."
                )
            cls.set_score(0.0)
            if stop_on_exception:
                raise GradingComplete from exc
            raise TestComplete from exc

    @classmethod
    def check_dataframe(
        cls,
        name: str,
        ref: Any,
        data: Any,
        *,
        subset_columns: list[str] | None = None,
        check_values: bool = True,
        allow_order_mismatch: bool = True,
        display_input: bool = False,
    ) -> bool:
        pd = importlib.import_module("pandas")  # only questions that use pandas need it

        if not isinstance(data, pd.DataFrame):
            return cls._bad(f"{name} is not a DataFrame", report=True, critical=False)
        columns = subset_columns or list(ref.columns)
        if set(columns) - set(data.columns):
            return cls._bad(f"{name} is missing columns", report=True, critical=False)
        left, right = ref[columns], data[columns]
        if allow_order_mismatch:
            left = left.sort_values(columns).reset_index(drop=True)
            right = right.sort_values(columns).reset_index(drop=True)
        if left.shape != right.shape:
            return cls._bad(f"{name} does not have the correct shape", report=True, critical=False)
        if check_values and not left.equals(right):
            return cls._bad(f"{name} has incorrect values", report=True, critical=False)
        return cls._good(name, report=True)

    @classmethod
    def check_plot(cls, *_args: Any, **_kwargs: Any) -> bool:
        raise NotImplementedError(
            "Feedback.check_plot is not supported by Assay's PrairieLearn kind"
        )


def _numpy() -> Any:
    """numpy, imported when a check needs it (only questions that use it have it)."""
    return importlib.import_module("numpy")


def _absent(shown: str, data: Any, is_kind: Callable[[Any], bool], kind: str) -> str:
    """A check's first complaint, in PrairieLearn's words: None, or not ``kind`` ("": neither)."""
    if data is None:
        return f"{shown} is None or not defined"
    return "" if is_kind(data) else f"{shown} is not {kind}"


def _is_number(value: Any) -> bool:
    if isinstance(value, bool | int | float | complex):
        return True
    try:
        np = _numpy()
    except ImportError:
        np = None
    if np is not None and isinstance(value, np.number):
        return True
    try:
        return bool(value.is_number)  # a sympy number
    except AttributeError:
        return False


# -- pl_helpers ---------------------------------------------------------------------------
def points(value: float) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """The test's points (1 without the decorator)."""

    def decorator(f: Callable[..., T]) -> Callable[..., T]:
        f.__dict__["points"] = value
        return f

    return decorator


def name(label: str) -> Callable[[Callable[..., Any]], Callable[..., None]]:
    """The test's name, as students see it."""

    def decorator(f: Callable[..., Any]) -> Callable[..., None]:
        def wrapped(test_instance: Any) -> None:
            Feedback.set_name(f.__name__)
            if test_instance.total_iters > 1 and getattr(
                test_instance, "print_iteration_prefix", True
            ):
                Feedback.add_iteration_prefix(test_instance.iter_num)
            f(test_instance)

        wrapped.__name__, wrapped.__qualname__ = f.__name__, f.__qualname__
        wrapped.__doc__ = f.__doc__
        wrapped.__dict__.update(f.__dict__)
        wrapped.__dict__["name"] = label
        return wrapped

    return decorator


def not_repeated(f: Callable[..., Any]) -> Callable[..., None]:
    def wrapped(test_instance: Any) -> None:
        if test_instance.iter_num > 0:
            raise DoNotRunError
        Feedback.clear_iteration_prefix()
        test_instance.print_iteration_prefix = False
        f(test_instance)

    wrapped.__name__, wrapped.__qualname__ = f.__name__, f.__qualname__
    wrapped.__dict__.update(f.__dict__)
    wrapped.__dict__["__repeated__"] = False
    return wrapped


def print_student_code(
    st_code: str = STUDENT_FILE,
    ipynb_key: str = "#grade",
    as_feedback: bool = True,
) -> str | None:
    """The student's code, as feedback (plain text: no terminal colours)."""
    del ipynb_key
    try:
        with open(st_code, encoding="utf-8") as file:
            contents = file.read(FEEDBACK_LIMIT).strip()
    except OSError:
        contents = ""
    if as_feedback:
        Feedback.add_feedback(contents)
        return None
    return contents


def save_plot(plt: Any, iternum: int = 0) -> None:
    """Plots are not shown by Assay's PrairieLearn kind."""


# -- pl_execute ---------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError:
        return ""


def _seed(seed: int | None) -> None:
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed)


def _plain(name: str, value: Any) -> bool:
    return name != "__builtins__" and not isinstance(value, ModuleType)


def execute_code(  # noqa: PLR0917 - PrairieLearn's signature
    fname_ref: str,
    fname_student: str,
    include_plt: bool = False,
    console_output_fname: str | None = None,
    test_iter_num: int = 0,
    ipynb_key: str = "#grade",
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """Run the setup code, the reference answer and the student's code as
    PrairieLearn does; the reference's names and the student's ``names_from_user``."""
    del include_plt, console_output_fname, ipynb_key
    tests = os.environ["FILENAMES_DIR"]
    with open(os.path.join(tests, "data.json"), encoding="utf-8") as file:
        data = json.load(file)
    setup = _read(os.path.join(tests, "setup_code.py"))
    leading = _read(os.path.join(tests, "leading_code.py"))
    trailing = _read(os.path.join(tests, "trailing_code.py"))
    with open(fname_ref, encoding="utf-8") as file:
        reference = file.read()
    with open(fname_student, encoding="utf-8") as file:
        student = "\n".join(filter(None, (leading, file.read(), trailing)))
    seed = random.randint(0, 2**32 - 1)  # noqa: S311 - a seed, not a secret
    setup_globals: dict[str, Any] = {"test_iter_num": test_iter_num, "data": data}
    exec(compile(setup, os.path.join(tests, "setup_code.py"), "exec"), setup_globals)  # noqa: S102
    repeated = setup_globals.get("repeated_setup")
    if callable(repeated):
        repeated()
    for_user = [v["name"] for v in data["params"].get("names_for_user", [])]
    ref_code = copy.deepcopy(
        {k: v for k, v in setup_globals.items() if _plain(k, v) and k in for_user}
    )
    ref_code.update({k: v for k, v in setup_globals.items() if _plain(k, v) and k not in for_user})
    _seed(seed)
    exec(compile(reference, fname_ref, "exec"), ref_code)  # noqa: S102
    from_user = [v["name"] for v in data["params"].get("names_from_user", [])]
    if callable(repeated):
        repeated()
    student_globals = copy.deepcopy(
        {k: v for k, v in setup_globals.items() if _plain(k, v) and k in for_user}
    )
    _seed(seed)
    try:
        exec(compile(student, fname_student, "exec"), student_globals)  # noqa: S102
    except Exception as exc:
        raise UserCodeFailedError(sys.exc_info()) from exc
    ref_result = {k: v for k, v in ref_code.items() if not k.startswith("_") and _plain(k, v)}
    student_result = {n: student_globals.get(n) for n in from_user}
    _seed(None)
    return ref_result, student_result, None


# -- pl_unit_test -------------------------------------------------------------------------
class PLTestCase(unittest.TestCase):
    """A question's tests: ``self.st`` (the student's names), ``self.ref`` (the
    reference's), ``self.data``; a test's score is its points x ``Feedback.set_score``."""

    include_plt = False
    student_code_file = STUDENT_FILE
    iter_num = 0
    total_iters = 1
    ipynb_key = "#grade"
    plt: Any = None
    student_code_abs_path: str = ""
    st: Any
    ref: Any
    data: Any

    @classmethod
    def setUpClass(cls) -> None:
        Feedback.set_test(cls)
        base = os.environ["MERGE_DIR"]
        tests = os.environ["FILENAMES_DIR"]
        cls.student_code_abs_path = os.path.join(base, cls.student_code_file)
        with open(os.path.join(tests, "data.json"), encoding="utf-8") as file:
            cls.data = json.load(file)
        ref, student, plot = execute_code(
            os.path.join(tests, "ans.py"),
            cls.student_code_abs_path,
            cls.include_plt,
            None,
            cls.iter_num,
            cls.ipynb_key,
        )
        cls.ref = _Names(ref)
        cls.st = _Names(student)
        cls.plt = plot

    @classmethod
    def get_total_points(cls) -> float:
        methods = [
            value
            for key, value in cls.__dict__.items()
            if callable(value) and key.startswith("test_") and "points" in value.__dict__
        ]
        return float(sum(m.__dict__["points"] for m in methods))

    def setUp(self) -> None:
        self.points = 0.0
        Feedback.set_test(self)


class PLTestCaseWithPlot(PLTestCase):
    include_plt = True


class _Names:
    """Attribute access to a namespace (PrairieLearn uses a namedtuple)."""

    def __init__(self, names: dict[str, Any]) -> None:
        self.__dict__.update(names)

    def __repr__(self) -> str:
        return f"Names({', '.join(self.__dict__)})"


__all__ = [
    "DoNotRunError",
    "Feedback",
    "GradingComplete",
    "GradingSkipped",
    "PLTestCase",
    "PLTestCaseWithPlot",
    "TestComplete",
    "UserCodeFailedError",
    "execute_code",
    "name",
    "not_repeated",
    "points",
    "print_student_code",
    "save_plot",
]
