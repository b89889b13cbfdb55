"""The Kattis examples (examples/kattis: an interactive problem, a scoring problem with
groups, a problem with a custom output validator) import with one command each and pass
``assignment check``: every submission under submissions/ fails (or not) as its category
says. Side by side, problemtools' own ``verifyproblem`` judges the same Python
submissions of the same packages on the host; its verdicts and scores must be Assay's.

Only the examples' own programs run on the host (as problemtools runs them); problemtools
runs Python 3 with CPython here (its default, PyPy, is not installed): a languages.yaml
of our own says so.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assay.grading.checking import failure_of
from assay.grading.kattis import KattisImport, import_and_check, languages_of
from assay.grading.report import GradeReport
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "kattis"
PROBLEMS = ("guess", "maxsum", "divisible")
# Assay's failure (checking.failure_of) as a Kattis verdict
VERDICTS = {"none": "AC", "wrong": "WA", "timeout": "TLE", "crashed": "RTE"}
CATEGORY_VERDICTS = {
    "accepted": "AC",
    "wrong_answer": "WA",
    "time_limit_exceeded": "TLE",
    "run_time_error": "RTE",
}
PYTHON_WITH_CPYTHON = """\
python3:
    compile: 'python3 -m py_compile {files}'
    run: 'python3 "{mainfile}"'
"""
# "   accepted/kadane.py (Python 3 (w/PyPy3)) OK: AC (100) [...]" or "ERROR x/y.py (...) got WA"
_NESTED = r"\((?:[^()]|\([^()]*\))*\)"
PROBLEMTOOLS_LINE = re.compile(
    rf"(?P<category>\w+)/(?P<name>\S+) {_NESTED} "
    r"(?:OK(?: with extra time)?: |got )(?P<verdict>[A-Z]+)(?: \((?P<score>[\d.]+)\))?"
)
TIMINGS: dict[str, float] = {}
# the scoring example: groups of 20, 30 and 50 points (min: all or nothing), samples 0
SCORES = {
    "maxsum": {
        "submissions/accepted/kadane.py": 100.0,
        "submissions/time_limit_exceeded/quadratic.py": 50.0,  # group 3 times out
        "submissions/run_time_error/recursive.py": 20.0,  # too deep from group 2 on
        "submissions/wrong_answer/empty_allowed.py": 0.0,  # all-negative cases everywhere
    }
}


def verdict_of(report: GradeReport) -> str:
    failure = failure_of(report)
    return VERDICTS.get(failure, failure)


@pytest.fixture(scope="module", params=PROBLEMS)
def imported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> KattisImport:
    require_backend("native")
    problem: str = request.param
    started = time.monotonic()
    done = import_and_check(
        EXAMPLES / problem,
        tmp_path_factory.mktemp("kattis") / problem,
        backend=get_backend("native"),
        language="python3",
    )
    TIMINGS[problem] = time.monotonic() - started
    return done


def verdicts(done: KattisImport) -> dict[str, tuple[str, float]]:
    """Each imported submission ("submissions/<category>/<name>"): Assay's verdict, score."""
    sources = done.written.sources
    return {
        sources[entry.label]: (verdict_of(entry.report), entry.report.score)
        for entry in done.check.entries
        if entry.report is not None
    }


def test_each_example_imports_and_passes_its_check(imported: KattisImport) -> None:
    assert imported.check.ok, imported.check.reasons
    assert imported.slowest_s is not None  # measured: none of the examples fixes its limit
    assert imported.time_limit_s == max(1, math.ceil(imported.slowest_s * 5))  # Kattis' rule
    found = verdicts(imported)
    categories = {label.split("/")[1] for label in found}
    assert categories == set(CATEGORY_VERDICTS)  # every category, all of them checked
    for label, (verdict, _score) in found.items():
        assert verdict == CATEGORY_VERDICTS[label.split("/")[1]], label
    for label, score in SCORES.get(imported.path.name, {}).items():
        assert found[label][1] == score, label
    print(f"\n{imported.path.name}: import + check {TIMINGS[imported.path.name]:.1f} s")
    for label, (verdict, score) in sorted(found.items()):
        print(f"  {label:55} {verdict:4} {score:g} / {imported.check.max_score:g}")


def problemtools_verdicts(
    problem: str, tmp_path: Path, suffix: str = "py"
) -> dict[str, tuple[str, float | None]]:
    """verifyproblem's verdict (and score) of each submission of ``problem`` whose file
    ends in ``.suffix``."""
    config = tmp_path / "config" / "problemtools"
    config.mkdir(parents=True)
    (config / "languages.yaml").write_text(PYTHON_WITH_CPYTHON)
    copy = shutil.copytree(EXAMPLES / problem, tmp_path / problem)
    verify = Path(sys.executable).with_name("verifyproblem")
    proc = subprocess.run(
        [str(verify), str(copy), "-p", "submissions", "-s", rf"\.{suffix}$", "-j", "2"],
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")},
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    found = {
        f"submissions/{m['category']}/{m['name']}": (
            m["verdict"],
            float(m["score"]) if m["score"] else None,
        )
        for m in PROBLEMTOOLS_LINE.finditer(proc.stdout + proc.stderr)
    }
    assert found, proc.stdout + proc.stderr
    return found


def same_verdicts(
    ours: dict[str, tuple[str, float]], theirs: dict[str, tuple[str, float | None]]
) -> None:
    assert set(theirs) == set(ours)
    for label, (verdict, score) in theirs.items():
        assert ours[label][0] == verdict, label
        if score is not None:  # a scoring problem: the same points
            assert ours[label][1] == score, label


@pytest.mark.slow
def test_python_verdicts_are_problemtools_verdicts(imported: KattisImport, tmp_path: Path) -> None:
    same_verdicts(verdicts(imported), problemtools_verdicts(imported.path.name, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("problem", "language", "suffix"),
    [("guess", "cpp", "cpp"), ("divisible", "cpp", "cpp"), ("maxsum", "c", "c")],
)
def test_c_and_cpp_verdicts_are_problemtools_verdicts(
    problem: str, language: str, suffix: str, tmp_path: Path
) -> None:
    require_backend("native")
    done = import_and_check(
        EXAMPLES / problem, tmp_path / "out", backend=get_backend("native"), language=language
    )
    assert done.check.ok, done.check.reasons
    same_verdicts(verdicts(done), problemtools_verdicts(problem, tmp_path / "pt", suffix))


# one accepted submission per built-in language (any file name), and its wrong twin
ADD = {
    "Add.java": "import java.util.Scanner;\npublic class Add { public static void main("
    "String[] x) { Scanner s = new Scanner(System.in); long a = s.nextLong(), b = "
    "s.nextLong(); System.out.println(a + b); } }\n",
    "add.R": 'x <- scan(file("stdin"), quiet = TRUE)\na <- x[1]\nb <- x[2]\n'
    'cat(a + b, "\\n", sep = "")\n',
    "add.c": '#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b); '
    'printf("%ld\\n", a + b); return 0; }\n',
    "add.cc": "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; "
    'std::cout << a + b << "\\n"; }\n',
    "add.go": 'package main\nimport "fmt"\nfunc main() { var a, b int64; fmt.Scan(&a, &b); '
    "fmt.Println(a + b) }\n",
    "add.hs": "main :: IO ()\nmain = interact $ \\s -> let [a, b] = map read (words s) :: "
    '[Integer] in show (a + b) ++ "\\n"\n',
    "add.js": 'const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/)'
    ".map(Number);\nconsole.log(a + b);\n",
    "add.kt": 'fun main() { val (a, b) = readLine()!!.trim().split(" ").map { it.toLong() }; '
    "println(a + b) }\n",
    "add.py3": "a, b = map(int, input().split())\nprint(a + b)\n",
    "add.rb": "a, b = gets.split.map(&:to_i)\nputs a + b\n",
    "add.rs": "use std::io::Read;\nfn main() { let mut s = String::new(); "
    "std::io::stdin().read_to_string(&mut s).unwrap(); let v: Vec<i64> = "
    "s.split_whitespace().map(|x| x.parse().unwrap()).collect(); let (a, b) = (v[0], v[1]); "
    'println!("{}", a + b); }\n',
    "add.sh": "read a b\necho $((a + b))\n",
    "add.ts": 'const text: string = require("fs").readFileSync(0, "utf8");\n'
    "const [a, b] = text.trim().split(/\\s+/).map(Number);\n"
    "process.stdout.write(`${a + b}\\n`);\n",
}


@pytest.mark.slow
def test_every_built_in_language_by_its_extension(tmp_path: Path) -> None:
    require_backend("native")
    problem = tmp_path / "add"
    files = {
        "problem.yaml": "name: Add\n",
        "data/sample/1.in": "1 2\n",
        "data/sample/1.ans": "3\n",
        "data/secret/1.in": "40 2\n",
        "data/secret/1.ans": "42\n",
    }
    for name, text in ADD.items():
        files[f"submissions/accepted/{name}"] = text
        files[f"submissions/wrong_answer/{name}"] = text.replace("a + b", "a - b")
    for rel, text in files.items():
        (problem / rel).parent.mkdir(parents=True, exist_ok=True)
        (problem / rel).write_text(text)
    environments = set()
    for language in languages_of(problem):
        done = import_and_check(
            problem, tmp_path / language, backend=get_backend("native"), language=language
        )
        assert done.check.ok, (language, done.check.reasons)
        assert [e.expectation for e in done.check.entries] == ["full marks", "wrong"], language
        environments.add(done.written.language.environment)
    assert len(environments) == len(ADD) == 13
