"""``dialogue`` tests against the real check50, side by side, on the same probe programs.

Each probe is one C source (compiled with the host's gcc for check50, and
in Assay's ``c`` environment for Assay) and one Python program, in variants
that get a conversation subtly wrong: no prompt, no final newline, an extra
blank line, exiting on bad input instead of asking again, exiting at once.
Every check is written once (``CHECKS``) and turned into both a check50
check and a ``dialogue`` test's steps, the way the docs map them. check50
runs offline (``--dev`` on a local check directory, on the host, as its
users run it); Assay grades on the native sandbox. The verdicts (pass/fail
per check and probe) must be identical, and match the table written down
here, so a probe that stopped probing is noticed too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.report import GradeReport
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

CHECK50 = Path(sys.executable).with_name("check50")
EOF = "EOF"

C_PROBE = r"""
#include <stdio.h>
#include <string.h>

#ifndef PROMPT
#define PROMPT "Name: "
#endif
#ifndef END
#define END "\n"
#endif
#ifndef BAD_INPUT_EXITS
#define BAD_INPUT_EXITS 0
#endif
#ifndef EXITS_AT_ONCE
#define EXITS_AT_ONCE 0
#endif

int main(void)
{
    char name[100];
    if (EXITS_AT_ONCE) {
        printf("%s", PROMPT);
        return 0;
    }
    for (;;) {
        printf("%s", PROMPT);
        if (!fgets(name, sizeof name, stdin))
            return 1;
        name[strcspn(name, "\n")] = '\0';
        if (name[0] != '-')
            break;
        if (BAD_INPUT_EXITS)
            return 1;
    }
    printf("hello, %s%s", name, END);
    return 0;
}
"""

PY_PROBE = """\
import sys
PROMPT, END, BAD_INPUT_EXITS, EXITS_AT_ONCE = {prompt!r}, {end!r}, {bad_exits}, {at_once}
if EXITS_AT_ONCE:
    print(PROMPT, end="", flush=True)
    sys.exit(0)
while True:
    try:
        name = input(PROMPT)
    except EOFError:
        sys.exit(1)
    if not name.startswith("-"):
        break
    if BAD_INPUT_EXITS:
        sys.exit(1)
print("hello, " + name, end=END)
"""

# probe -> how it differs from the correct program
PROBES: dict[str, dict[str, Any]] = {
    "correct": {},
    "no_prompt": {"prompt": ""},
    "no_newline": {"end": ""},
    "extra_blank": {"end": "\n\n"},
    "no_loop": {"bad_exits": 1},
    "exits_early": {"at_once": 1},
}

# check -> a check50 chain, one (method, argument, keywords) per call
Chain = list[tuple[str, Any, dict[str, Any]]]
CHECKS: dict[str, Chain] = {
    "greets": [("stdin", "David", {}), ("stdout", "hello, David\n", {}), ("exit", 0, {})],
    "without_waiting": [("stdin", "David", {"prompt": False}), ("stdout", "hello, David", {})],
    "then_eof": [
        ("stdin", "David", {}),
        ("stdout", "hello, David\n", {"regex": False}),
        ("stdout", EOF, {}),
    ],
    "text_only": [("stdin", "David", {}), ("stdout", "hello, David", {"regex": False})],
    "regex": [("stdin", "David", {}), ("stdout", r"hello, D\w+", {})],
    "rejects": [("stdin", "-1", {}), ("reject", None, {})],
    "asks_again": [
        ("stdin", "-1", {}),
        ("stdin", "David", {}),
        ("stdout", "hello, David\n", {}),
        ("exit", 0, {}),
    ],
    "exits_zero": [("stdin", "David", {}), ("exit", 0, {})],
}

# what check50 says (and so must Assay): the checks each probe fails
FAILS = {
    "correct": set(),
    "no_prompt": {
        "greets", "then_eof", "text_only", "regex", "rejects", "asks_again", "exits_zero"
    },
    "no_newline": {"greets", "then_eof", "asks_again"},
    "extra_blank": {"then_eof"},
    "no_loop": {"rejects", "asks_again"},
    "exits_early": {
        "greets", "without_waiting", "then_eof", "text_only", "regex", "rejects", "asks_again"
    },
}  # fmt: skip


def c_flags(variant: dict[str, Any]) -> list[str]:
    flags = []
    if "prompt" in variant:
        flags.append(f"-DPROMPT={json.dumps(variant['prompt'])}")
    if "end" in variant:
        flags.append(f"-DEND={json.dumps(variant['end'])}")
    if variant.get("bad_exits"):
        flags.append("-DBAD_INPUT_EXITS=1")
    if variant.get("at_once"):
        flags.append("-DEXITS_AT_ONCE=1")
    return flags


def py_source(variant: dict[str, Any]) -> str:
    return PY_PROBE.format(
        prompt=variant.get("prompt", "Name: "),
        end=variant.get("end", "\n"),
        bad_exits=variant.get("bad_exits", 0),
        at_once=variant.get("at_once", 0),
    )


def commands(language: str) -> dict[str, str]:
    if language == "c":
        return {probe: f"./{probe}" for probe in PROBES}
    return {probe: f"python3 {probe}.py" for probe in PROBES}


# -- check50's side ------------------------------------------------------------------------
def check50_source(language: str) -> str:
    lines = ["import check50", ""]
    for probe, command in commands(language).items():
        for check, chain in CHECKS.items():
            calls = "".join(_check50_call(method, arg, kw) for method, arg, kw in chain)
            lines += [
                "@check50.check()",
                f"def {probe}__{check}():",
                f"    check50.run({command!r}){calls}",
                "",
            ]
    return "\n".join(lines)


def _check50_call(method: str, arg: Any, keywords: dict[str, Any]) -> str:
    args = [] if arg is None else ["check50.EOF" if arg == EOF else repr(arg)]
    args += [f"{key}={value!r}" for key, value in keywords.items()]
    return f".{method}({', '.join(args)})"


def run_check50(language: str, work: Path) -> dict[tuple[str, str], bool]:
    checks, student = work / "checks", work / "student"
    checks.mkdir(parents=True)
    student.mkdir()
    (checks / ".cs50.yml").write_text("check50:\n  checks: __init__.py\n")
    (checks / "__init__.py").write_text(check50_source(language))
    for probe, variant in PROBES.items():
        if language == "c":
            (student / "probe.c").write_text(C_PROBE)
            subprocess.run(
                ["gcc", *c_flags(variant), "-o", probe, "probe.c"], cwd=student, check=True
            )
        else:
            (student / f"{probe}.py").write_text(py_source(variant))
    out = work / "results.json"
    # check50's own waits are short (a prompt within 3 s, an exit within 5 s): with all 48
    # checks at once beside Assay's 48 runs, a loaded CI machine missed them (every probe
    # failed checks it passes alone). A few workers per core keep its verdicts its own.
    workers = 2 * (os.cpu_count() or 1)
    env = {**os.environ, "CHECK50_WORKERS": str(workers)}
    ran = subprocess.run(  # its status is 1 when a check fails
        [str(CHECK50), "--dev", "-o", "json", "--output-file", str(out), str(checks)],
        cwd=student,
        env=env,
        check=False,
        capture_output=True,
        timeout=120,
    )
    assert out.exists(), ran.stderr.decode(errors="replace")
    results = json.loads(out.read_text())["results"]
    verdicts = {}
    for result in results:
        probe, check = result["name"].split("__")
        verdicts[probe, check] = bool(result["passed"])
    return verdicts


# -- Assay's side --------------------------------------------------------------------------
def steps_of(chain: Chain) -> list[dict[str, Any]]:
    """A check50 chain as dialogue steps: the mapping docs/kinds-dialogue.md gives."""
    steps: list[dict[str, Any]] = []
    for method, arg, keywords in chain:
        match method:
            case "stdin":
                step: dict[str, Any] = {"send": arg}
                if "prompt" in keywords:
                    step["prompt"] = keywords["prompt"]
            case "stdout" if arg == EOF:
                step = {"expect_eof": True}
            case "stdout":
                step = {"expect_regex" if keywords.get("regex", True) else "expect": arg}
            case "reject":
                step = {"reject": True}
            case "exit":
                step = {"exit": arg}
            case _:
                raise AssertionError(method)
        steps.append(step)
    return steps


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def package_toml(language: str) -> str:
    head = [
        "[assignment]",
        f'name = "probes-{language}"',
        f'environment = "{"c" if language == "c" else "python3"}"',
    ]
    if language == "c":
        builds = [["gcc", *c_flags(v), "-o", probe, "probe.c"] for probe, v in PROBES.items()]
        head += ["[build]", f"commands = {toml_value(builds)}"]
    tests = []
    for probe, command in commands(language).items():
        for check, chain in CHECKS.items():
            tests += [
                "[[tests]]",
                f'name = "{probe}__{check}"',
                'kind = "dialogue"',
                f"command = {toml_value(command)}",
                f"steps = {toml_value(steps_of(chain))}",
            ]
    return "\n".join(head + tests) + "\n"


def run_assay(language: str, work: Path) -> tuple[dict[tuple[str, str], bool], GradeReport]:
    root = work / "package"
    root.mkdir(parents=True)
    (root / "assignment.toml").write_text(package_toml(language))
    if language == "c":
        files = {"probe.c": C_PROBE}
    else:
        files = {f"{probe}.py": py_source(variant) for probe, variant in PROBES.items()}
    with load_package(root) as package:
        report = grade(
            package,
            FileSet.from_mapping(files),
            backend=get_backend("native"),
            parallel_runs=len(PROBES) * len(CHECKS),
        )
    verdicts = {}
    for test in report.tests:
        probe, check = test.name.split("__")
        verdicts[probe, check] = test.passed
    return verdicts, report


def table(verdicts: dict[tuple[str, str], bool]) -> str:
    rows = [" " * 12 + " ".join(f"{c[:10]:>10}" for c in CHECKS)]
    for probe in PROBES:
        marks = " ".join(f"{'pass' if verdicts[probe, c] else 'FAIL':>10}" for c in CHECKS)
        rows.append(f"{probe:<12}{marks}")
    return "\n".join(rows)


@pytest.mark.parametrize("language", ["c", "python"])
def test_dialogue_verdicts_are_check50s(language: str, tmp_path: Path) -> None:
    require_backend("native", "c" if language == "c" else "python3")
    assert CHECK50.exists(), "check50 is a dev dependency (pyproject.toml)"
    if language == "c":
        assert shutil.which("gcc"), "the host's gcc compiles the probes for check50"
    # one side after the other, so neither's timing depends on the other's load
    theirs = run_check50(language, tmp_path / "check50")
    ours, report = run_assay(language, tmp_path / "assay")
    print(f"\ncheck50 ({language}):\n{table(theirs)}\nAssay dialogue ({language}):\n{table(ours)}")
    assert set(theirs) == set(ours) == {(p, c) for p in PROBES for c in CHECKS}
    expected = {(p, c): c not in FAILS[p] for p in PROBES for c in CHECKS}
    assert theirs == expected, "check50 itself: " + table(theirs)
    differ = {key for key in ours if ours[key] != theirs[key]}
    details = {t.name: (t.status, t.message, t.output) for t in report.tests}
    assert ours == theirs, [details[f"{p}__{c}"] for p, c in sorted(differ)]
