"""The asserts kind's pure parts: Python probes decided on the host, the C test program.

The driver and the generated C program are also run here directly on the
host (``python3 -I``, ``gcc``): they are our own programs, tested on small
modules written by the test; the sandbox runs are in tests/integration.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from assay.errors import PackageError
from assay.grading.kinds.asserts import AssertsKind, AssertsOptions
from assay.grading.kinds.asserts_c import (
    MARKER,
    blamed_asserts,
    generate_program,
    parse_c_assert,
    passed_marker,
    without_marker,
)
from assay.grading.kinds.asserts_driver import DRIVER
from assay.grading.kinds.asserts_py import (
    ProbeRaised,
    decode_value,
    evaluate,
    expected_actual,
    parse_frame,
    parse_python_assert,
    probe_values,
)
from assay.grading.loader import load_package
from assay.grading.spec import TestSpec


# -- Python: splitting an assert into probes ---------------------------------------------------
@pytest.mark.parametrize(
    ("text", "probes"),
    [
        ("assert(square(3) == 9)", ["square(3)"]),
        ("assert square(3) == 9", ["square(3)"]),
        ("square(3) == 9", ["square(3)"]),
        ("assert(abs(f(1.0) - 2.0) < 1e-6)", ["f(1.0)"]),
        ("assert(sorted(f([3, 1])) == [1, 3])", ["f([3, 1])"]),
        ("assert(f(x)[0] == 3)", ["f(x)"]),
        ("assert(is_prime(7))", ["is_prime(7)"]),
        ("assert(not is_prime(8))", ["is_prime(8)"]),
        ("assert(g() is None)", ["g()"]),
        ("assert(a() is b())", ["a() is b()"]),
        ("assert(make(1, 2).x == 1)", ["make(1, 2).x"]),
        ("assert(f(2) ** 2 == 16)", ["f(2)"]),
        ("assert(f(3) == 3 * 3)", ["f(3)"]),
        ("assert(len(f(1)) == 2 and f(2)[1] == 'b')", ["f(1)", "f(2)"]),
        ("assert(f(1) == {'a': g(2)})", ["f(1)", "g(2)"]),
        ("assert(max(f(1), key=len) == 'ab')", ["max(f(1), key=len)"]),
        ("assert(1 == 1)", []),
    ],
)
def test_probes_are_the_parts_needing_student_code(text: str, probes: list[str]) -> None:
    assert list(parse_python_assert(text).probes) == probes


def test_assert_message_is_kept() -> None:
    assert parse_python_assert("assert f(1) == 2, 'f(1) must be 2'").message == "f(1) must be 2"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("assert(x, 'message')", "always true"),
        ("x = 1", "an assert or an expression"),
        ("assert(", "not valid Python"),
        ("f(1); g(2)", "one assert per line"),
    ],
)
def test_bad_python_asserts(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_python_assert(text)


# -- Python: deciding on the host ----------------------------------------------------------
def decide(text: str, *values: Any) -> tuple[bool, str]:
    return evaluate(parse_python_assert(text), list(values))


def test_equality_and_values_shown() -> None:
    assert decide("assert(square(3) == 9)", 9) == (True, "")
    passed, why = decide("assert(square(3) == 9)", 8)
    assert not passed and why == "the assert is false\n  square(3) is 8"
    parsed = parse_python_assert("assert(9 == square(3))")
    assert expected_actual(parsed, [8]) == ("9", "8")


def test_types_matter_like_in_python() -> None:
    assert decide("assert(f() == (1, 2))", (1, 2))[0]
    assert not decide("assert(f() == (1, 2))", [1, 2])[0]
    assert decide("assert(f() == 2)", 2.0)[0]
    assert not decide("assert(f() is True)", 1)[0]
    assert decide("assert(f())", [0])[0]  # truthiness of plain values
    assert not decide("assert(f())", "")[0]


def test_builtins_subscripts_and_chains() -> None:
    assert decide("assert(sorted(f()) == [1, 2, 3])", [3, 1, 2])[0]
    assert decide("assert(len(f()) == 3 and f()[1:] == 'bc')", "abc", "abc")[0]
    assert decide("assert(0 < f() <= 10)", 10)[0]
    assert not decide("assert(0 < f() <= 10)", 11)[0]
    assert decide("assert('x' in f())", {"x": 1})[0]
    assert decide("assert(abs(f(1.0) - 2.0) < 1e-6)", 2.0000001)[0]


def test_a_raising_probe_fails_only_when_its_value_is_needed() -> None:
    assert decide("assert(a() or b())", 1, ProbeRaised("b() raised KeyError"))[0]
    assert decide("assert(a() or b())", 0, ProbeRaised("b() raised KeyError")) == (
        False,
        "b() raised KeyError",
    )


def test_errors_on_plain_values_fail_the_assert() -> None:
    passed, why = decide("assert(len(f()) == 1)", 5)
    assert not passed and why.startswith("TypeError")
    assert decide("assert(f()[3] == 1)", [1])[1].startswith("IndexError")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("assert(f() ** 10**9 == 1)", 3),
        ("assert('ab' * f() == 'x')", 10**9),
        ("assert(1 << f() == 2)", 10**9),
        ("assert('%*d' % f() == 'x')", (10**9, 1)),
    ],
)
def test_host_arithmetic_is_bounded(text: str, value: Any) -> None:
    passed, why = decide(text, value)
    assert not passed and ("too large" in why or "only evaluated on numbers" in why)


# -- Python: values sent back ----------------------------------------------------------------
def test_decode_every_tag() -> None:
    encoded = {
        "tuple": [
            1,
            {"int": str(10**30)},
            {"float": (0.1).hex()},
            {"float": "nan"},
            {"complex": [(1.5).hex(), (-2.0).hex()]},
            {"bytes": "6869"},
            {"list": [None, True, "s"]},
            {"set": [1]},
            {"frozenset": [2]},
            {"dict": [["k", {"tuple": []}]]},
        ]
    }
    value = decode_value(encoded)
    assert value[:3] == (1, 10**30, 0.1)
    assert value[3] != value[3]  # nan
    assert value[4:] == (
        complex(1.5, -2.0),
        b"hi",
        [None, True, "s"],
        {1},
        frozenset({2}),
        {"k": ()},
    )


@pytest.mark.parametrize(
    "bad",
    [[1], {"list": 1}, {"object": []}, {"list": [], "tuple": []}, {"dict": [[1]]}, 1.5],
)
def test_decode_refuses_anything_else(bad: Any) -> None:
    with pytest.raises(ValueError):
        decode_value(bad)


def test_frames_need_the_nonce_on_the_last_line() -> None:
    frame = {"nonce": "n1", "values": [{"value": 9}]}
    good = b"noise\n" + json.dumps(frame).encode() + b"\n"
    assert parse_frame(good, "n1") == frame
    assert parse_frame(good, "n2") is None
    assert parse_frame(json.dumps(frame).encode() + b"\nmore\n", "n1") is None
    assert parse_frame(b"\xff{", "n1") is None
    assert probe_values(frame, 1) == [9]
    assert probe_values(frame, 2) is None
    assert probe_values({"values": [{"value": {"set": [{"list": []}]}}]}, 1) is None
    raised = probe_values({"values": [{"raised": "f() raised X"}]}, 1)
    assert raised == [ProbeRaised("f() raised X")]


# -- Python: the driver, run on the host against a small module ---------------------------------
def run_driver(tmp_path: Path, module: str, probes: list[str]) -> tuple[int, bytes, bytes]:
    (tmp_path / "solution.py").write_text(textwrap.dedent(module))
    argv = ["python3", "-I", "-B", "-c", DRIVER, "nonce", str(tmp_path), "solution"]
    done = subprocess.run(
        [*argv, json.dumps(probes)], capture_output=True, timeout=30, check=False, cwd=tmp_path
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def host_python() -> None:
    if shutil.which("python3") is None:
        pytest.skip("no python3 on this host")


@pytest.mark.usefixtures("host_python")
def test_driver_sends_plain_values_and_student_prints_go_to_stderr(tmp_path: Path) -> None:
    module = """
    print("hello from the student")
    def f(x):
        return [x, (x, 0.5), {x: None}]
    """
    code, out, err = run_driver(tmp_path, module, ["f(2)", "1 / 0"])
    assert code == 0 and b"hello from the student" in err
    frame = parse_frame(out, "nonce")
    assert frame is not None
    values = probe_values(frame, 2)
    assert values == [
        [2, (2, 0.5), {2: None}],
        ProbeRaised("1 / 0 raised ZeroDivisionError: division by zero"),
    ]


@pytest.mark.usefixtures("host_python")
def test_driver_refuses_objects_with_behaviour(tmp_path: Path) -> None:
    module = """
    class Yes(int):
        def __eq__(self, other):
            return True
    def f():
        return Yes(1)
    """
    _, out, _ = run_driver(tmp_path, module, ["f()"])
    frame = parse_frame(out, "nonce")
    assert frame is not None
    (value,) = probe_values(frame, 1) or [None]
    assert isinstance(value, ProbeRaised) and "a Yes object" in value.message


@pytest.mark.usefixtures("host_python")
def test_driver_early_exit_sends_no_frame(tmp_path: Path) -> None:
    code, out, _ = run_driver(tmp_path, "import os\nos._exit(0)\n", ["f()"])
    assert code == 0 and parse_frame(out, "nonce") is None


@pytest.mark.usefixtures("host_python")
def test_driver_reports_import_errors(tmp_path: Path) -> None:
    _, out, err = run_driver(tmp_path, "raise SystemExit(0)\n", ["f()"])
    frame = parse_frame(out, "nonce")
    assert frame is not None and frame["import_error"] == "SystemExit: 0"
    assert b"Traceback" in err


# -- C: parsing and the generated program -----------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("assert(square(3) == 9);", "square(3) == 9"),
        ("assert (f(1) == g(2))", "f(1) == g(2)"),
        ("assert(f(1)) && g(2)", "assert(f(1)) && g(2)"),
        ('strcmp(name(), "a)") == 0', 'strcmp(name(), "a)") == 0'),
        ("assert(c() == ')')", "c() == ')'"),
    ],
)
def test_c_asserts_parse(text: str, expression: str) -> None:
    assert parse_c_assert(text).expression == expression


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("assert()", "empty"),
        ("assert(f(1) == 2", "unbalanced"),
        ("assert(f(1)]", "unbalanced"),
        ("assert(f(1)); exit(0)", "';'"),
        ("assert(({ int x = 1; x; }))", "cannot appear"),
        ('assert(f("x) == 1)', "not closed"),
        ("assert(f(1) /* c */ == 2)", "comments"),
    ],
)
def test_bad_c_asserts(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_c_assert(text)


def test_generated_program_has_one_function_and_case_per_active_assert() -> None:
    asserts = [parse_c_assert(t) for t in ("assert(f(1) == 1)", "assert(f(2) == 4)")]
    source = generate_program(asserts, [1], cpp=False, includes=["/work/solution.c"])
    assert '#line 1 "assert-2"' in source and "assay_assert_0" not in source
    assert "case 1: ok = assay_assert_1(); break;" in source
    assert source.index("#define main assay_student_main") < source.index(
        '#include "/work/solution.c"'
    )
    assert "#undef main" in source
    cpp = generate_program(asserts, [0, 1], cpp=True, header="solution.h")
    assert "#include <cstdio>" in cpp and '#include "solution.h"' in cpp


def test_blame_by_line_and_by_function() -> None:
    output = textwrap.dedent("""\
        /work/solution.c:3:1: warning: something about the student's file
        assert-2: In function 'assay_assert_1':
        assert-2:1:13: error: too few arguments to function 'f'
            1 |     return (f() == 4) ? 1 : 0;
              |             ^
        /work/solution.c:1:5: note: declared here
        /usr/bin/ld: /tmp/cc.o: in function `assay_assert_3':
        x.c:(.text+0x9): undefined reference to `g'
        collect2: error: ld returned 1 exit status
    """)
    blamed = blamed_asserts(output)
    assert set(blamed) == {1, 3}
    assert "too few arguments" in blamed[1] and "1 |" in blamed[1]
    assert "declared here" not in blamed[1]
    assert "assay_assert_3" in blamed[3]


def test_marker() -> None:
    assert passed_marker(f"out\n{MARKER}abc\n".encode(), "abc")
    assert not passed_marker(f"{MARKER}abc\nlater\n".encode(), "abc")
    assert not passed_marker(f"{MARKER}abd\n".encode(), "abc")
    assert without_marker(f"out\n\n{MARKER}abc\n".encode(), "abc") == b"out\n"


C_STUDENT = """
#include <stdlib.h>
int square(int x) { return x * x; }
int sneaky(void) { exit(0); }
int main(void) { return 7; }
"""


@pytest.fixture
def gcc() -> str:
    path = shutil.which("gcc")
    if path is None:
        pytest.skip("no gcc on this host")
    return path


def test_generated_program_runs_one_assert_per_process(tmp_path: Path, gcc: str) -> None:
    (tmp_path / "solution.c").write_text(C_STUDENT)
    texts = [
        "assert(square(3) == 9)",
        "assert(square(2) == 5)",
        "assert(sneaky() == 1)",
        "assert(nope(1))",
    ]
    asserts = [parse_c_assert(t) for t in texts]
    source = tmp_path / "asserts.c"
    source.write_text(
        generate_program(asserts, [0, 1, 2, 3], cpp=False, includes=[str(tmp_path / "solution.c")])
    )
    failed = subprocess.run(
        [gcc, "-o", str(tmp_path / "t"), str(source)], capture_output=True, text=True, check=False
    )
    assert failed.returncode != 0
    assert set(blamed_asserts(failed.stderr)) == {3}, failed.stderr
    source.write_text(
        generate_program(asserts, [0, 1, 2], cpp=False, includes=[str(tmp_path / "solution.c")])
    )
    subprocess.run([gcc, "-o", str(tmp_path / "t"), str(source)], check=True, capture_output=True)

    def run(index: int) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(tmp_path / "t"), str(index), "n0nce"], capture_output=True, check=False, env={}
        )

    ok, false, sneaky = run(0), run(1), run(2)
    assert ok.returncode == 0 and passed_marker(ok.stdout, "n0nce")
    assert false.returncode == 1 and not passed_marker(false.stdout, "n0nce")
    assert sneaky.returncode == 0 and not passed_marker(sneaky.stdout, "n0nce")
    assert run(9).returncode == 2


# -- the kind at load time ----------------------------------------------------------------------
def package(
    tmp_path: Path, environment: str, entry: str, files: dict[str, str] | None = None
) -> Path:
    root = tmp_path / "pkg"
    root.mkdir()
    manifest = (
        f'[assignment]\nname = "a"\nenvironment = "{environment}"\n\n'
        f'[[tests]]\nname = "t"\nkind = "asserts"\npoints = 3\n{entry}\n'
    )
    (root / "assignment.toml").write_text(manifest)
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_asserts_file_is_read_at_load_time(tmp_path: Path) -> None:
    lines = "# comment\nassert(f(1) == 1)\n\n// another\nassert(f(2) == 2)\nassert(f(1) == 1)\n"
    root = package(tmp_path, "python3", 'asserts_file = "tests/a.txt"', {"tests/a.txt": lines})
    with load_package(root) as loaded:
        options = loaded.options["t"]
        assert isinstance(options, AssertsOptions)
        assert options.asserts == ("assert(f(1) == 1)", "assert(f(2) == 2)", "assert(f(1) == 1)")
        test = loaded.spec.tests[0]
        outcomes = AssertsKind().not_run(test, options, "not run: the build failed")
    assert [o.name for o in outcomes] == [
        "t :: assert(f(1) == 1)",
        "t :: assert(f(2) == 2)",
        "t :: assert(f(1) == 1) (#2)",
    ]
    assert all(o.max_score == 1.0 and o.score == 0.0 for o in outcomes)
    assert all(o.message == "not run: the build failed" and o.status == "skipped" for o in outcomes)


@pytest.mark.parametrize(
    ("environment", "entry", "key", "needle"),
    [
        ("python3", 'asserts = ["assert(f(1), 2)"]', "tests[0].asserts", "always true"),
        ("c", 'asserts = ["assert(f(1)"]', "tests[0].asserts", "unbalanced"),
        ("java", 'asserts = ["f(1) == 1"]', "tests[0].kind", "python3, c and cpp"),
        ("python3", "", "tests[0]", "asserts_file"),
        ("python3", 'asserts = ["f()"]\nasserts_file = "x"', "tests[0]", "not both"),
        ("python3", 'asserts = ["f()"]\nmodule = "a-b"', "tests[0].module", "module name"),
        ("c", 'asserts = ["f()"]\nheader = "missing.h"', "tests[0].header", "does not exist"),
        ("c", 'asserts = ["f()"]\nmodule = "sol"', "tests[0].module", "does not apply"),
        ("python3", 'asserts = ["f()"]\ncflags = ["-O2"]', "tests[0].cflags", "does not apply"),
    ],
)
def test_load_errors_name_the_key(
    tmp_path: Path, environment: str, entry: str, key: str, needle: str
) -> None:
    root = package(tmp_path, environment, entry)
    with pytest.raises(PackageError) as info:
        load_package(root)
    assert info.value.key == key and needle in str(info.value)


def test_one_assert_as_a_string(tmp_path: Path) -> None:
    root = package(tmp_path, "c", 'asserts = "assert(f(1) == 1)"')
    with load_package(root) as loaded:
        options = loaded.options["t"]
        assert isinstance(options, AssertsOptions) and options.asserts == ("assert(f(1) == 1)",)


def test_not_run_without_the_package() -> None:
    test = TestSpec.model_validate(
        {"name": "x", "kind": "asserts", "points": 2, "asserts": ["a()", "b()"]}
    )
    options = AssertsKind.Options.model_validate(test.options)
    outcomes = AssertsKind().not_run(test, options, "nope")
    assert [(o.name, o.max_score) for o in outcomes] == [("x :: a()", 1.0), ("x :: b()", 1.0)]


def test_hidden_asserts_are_named_by_number_and_their_text_opens_the_message() -> None:
    test = TestSpec.model_validate(
        {
            "name": "x",
            "kind": "asserts",
            "visibility": "hidden",
            "asserts": ["assert(secret(1) == 42)", "assert(secret(2) == 43)"],
        }
    )
    options = AssertsKind.Options.model_validate(test.options)
    outcomes = AssertsKind().not_run(test, options, "not run")
    assert [o.name for o in outcomes] == ["x :: assert 1", "x :: assert 2"]
    assert outcomes[0].message == "assert(secret(1) == 42)\nnot run"
    assert all("42" not in o.name and "43" not in o.name for o in outcomes)
