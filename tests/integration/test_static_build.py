"""Static checks and build diagnostics through ``grade`` on the real native sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import BuildStatus, TestStatus
from assay.grading.report import GradeReport, ReportStatus
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

C_MANIFEST = """
[assignment]
name = "c-static"
environment = "c"
[limits]
cpu_time_s = 2
wall_time_s = 5
[build]
commands = [
    ["gcc", "-O2", "-Wall", "-c", "main.c", "twice.c"],
    ["gcc", "-o", "prog", "main.o", "twice.o"],
]
required_files = ["main.c", "twice.c"]
[run]
command = ["./prog"]
[static]
blacklist = ["system"]
{static}
[[tests]]
name = "three"
stdin = "3"
expected = "6"
points = 2
[[tests]]
name = "five"
stdin = "5"
expected = "10"
points = 3
"""

TWICE = "int twice(int x) { return 2 * x; }\n"
CLEAN = """#include <stdio.h>
int twice(int);
int main(void) {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    printf("%d\\n", twice(n));
    return 0;
}
"""
# system() called in plain sight, on line 7
CALLS_SYSTEM = CLEAN.replace("    return 0;\n", '    system("true");\n    return 0;\n')
# the name never appears in the source: only the object's symbols show it
HIDES_SYSTEM = "#include <stdlib.h>\n#define RUN(c) sys##tem(c)\n" + CLEAN.replace(
    "    return 0;\n", '    RUN("true");\n    return 0;\n'
)


@pytest.fixture(autouse=True)
def _native() -> None:
    require_backend("native")


def _grade(tmp_path: Path, manifest: str, files: dict[str, str]) -> GradeReport:
    (tmp_path / "assignment.toml").write_text(manifest)
    with load_package(tmp_path) as package:
        return grade(package, FileSet.from_mapping(files), backend=get_backend("native"), seed=1)


def _c(tmp_path: Path, main: str, static: str = 'effect = "fail_submission"') -> GradeReport:
    manifest = C_MANIFEST.replace("{static}", static)
    return _grade(tmp_path, manifest, {"main.c": main, "twice.c": TWICE})


def test_a_clean_c_submission_gets_full_marks(tmp_path: Path) -> None:
    report = _c(tmp_path, CLEAN)
    assert report.status is ReportStatus.GRADED
    assert report.static is not None
    assert report.static.findings == []
    assert report.score == 5


def test_calling_system_fails_the_submission_with_file_and_line(tmp_path: Path) -> None:
    report = _c(tmp_path, CALLS_SYSTEM)
    assert report.status is ReportStatus.GRADED
    assert [t.status for t in report.tests] == [TestStatus.PASSED, TestStatus.PASSED]
    assert report.score == 0
    assert report.static is not None
    [finding] = report.static.findings
    assert (finding.name, finding.file, finding.line, finding.column) == ("system", "main.c", 7, 5)
    assert finding.message == "main.c, line 7: `system` is not allowed in this assignment"


def test_system_hidden_behind_a_macro_is_caught_in_the_object(tmp_path: Path) -> None:
    report = _c(tmp_path, HIDES_SYSTEM)
    assert report.score == 0
    assert report.static is not None
    [finding] = report.static.findings
    assert finding.name == "system"
    assert finding.file == "main.c"
    assert "main.o" in finding.message
    assert "`system`" in finding.message


def test_deduct_takes_points_once_per_forbidden_name(tmp_path: Path) -> None:
    report = _c(tmp_path, CALLS_SYSTEM, 'effect = "deduct"\ndeduct_points = 1.5')
    assert report.score == 3.5
    assert report.static is not None
    assert report.static.deducted == 1.5


def test_fail_tests_zeroes_only_the_listed_tests(tmp_path: Path) -> None:
    report = _c(tmp_path, HIDES_SYSTEM, 'effect = "fail_tests"\ntests = ["five"]')
    rows = {t.name: t for t in report.tests}
    assert rows["three"].status is TestStatus.PASSED
    assert rows["five"].status is TestStatus.FAILED
    assert "system" in rows["five"].message
    assert report.score == 2


def test_a_gcc_syntax_error_is_a_diagnostic_and_a_failed_build(tmp_path: Path) -> None:
    broken = CLEAN.replace("int n;", "int n")
    report = _c(tmp_path, broken)
    assert report.build.status is BuildStatus.FAILED
    assert report.score == 0
    errors = [d for d in report.build.diagnostics if d.severity == "error"]
    assert errors, report.build.log
    first = errors[0]
    assert (first.file, first.line, first.column, first.tool) == ("main.c", 5, 5, "gcc")
    assert "expected" in first.message
    assert "/work" not in report.model_dump_json()


PY_MANIFEST = """
[assignment]
name = "py-static"
environment = "python3"
[build]
commands = [["python3", "-m", "py_compile", "main.py"]]
[run]
command = ["python3", "main.py"]
[static]
blacklist = ["os.system", "eval"]
effect = "deduct"
deduct_points = 1
[[tests]]
name = "hello"
expected = "hi"
points = 3
"""


def test_python_os_system_is_caught_with_lines(tmp_path: Path) -> None:
    main = 'import os\n\nprint("hi")\nif False:\n    os.system("true")\n    print(eval("1"))\n'
    report = _grade(tmp_path, PY_MANIFEST, {"main.py": main})
    assert report.static is not None
    places = [(f.name, f.line, f.column) for f in report.static.findings]
    assert places == [("os.system", 5, 5), ("eval", 6, 11)]
    assert report.score == 1  # 3 points, minus one per forbidden name


def test_python_syntax_error_is_a_diagnostic_with_its_column(tmp_path: Path) -> None:
    main = 'def f():\n    return (1 +\n\nprint("hi")\n'
    report = _grade(tmp_path, PY_MANIFEST, {"main.py": main})
    assert report.build.status is BuildStatus.FAILED
    [diagnostic] = report.build.diagnostics
    assert (diagnostic.file, diagnostic.line, diagnostic.column) == ("main.py", 2, 12)
    assert diagnostic.message == "SyntaxError: '(' was never closed"
    assert report.static is not None
    assert report.static.findings == []  # unparseable: the build reports it


def test_c_whitelist_is_checked_on_the_objects_symbols(tmp_path: Path) -> None:
    uses_atoi = CLEAN.replace(
        '    printf("%d\\n", twice(n));', '    printf("%d\\n", twice(n) + atoi("0"));'
    ).replace("#include <stdio.h>", "#include <stdio.h>\n#include <stdlib.h>")
    static = 'whitelist = ["printf", "scanf"]\neffect = "deduct"\ndeduct_points = 2'
    manifest = C_MANIFEST.replace("{static}", static).replace('blacklist = ["system"]\n', "")
    clean = _grade(tmp_path, manifest, {"main.c": CLEAN, "twice.c": TWICE})
    assert clean.static is not None
    assert clean.static.findings == []  # twice() is the student's; puts/__printf_chk are not
    assert clean.score == 5
    report = _grade(tmp_path, manifest, {"main.c": uses_atoi, "twice.c": TWICE})
    assert report.static is not None
    places = [(f.name, f.rule, f.file, f.line) for f in report.static.findings]
    assert places == [("atoi", "whitelist", "main.c", 7)]
    assert report.score == 3


CPP_MANIFEST = """
[assignment]
name = "cpp-static"
environment = "cpp"
[build]
commands = [["g++", "-O2", "-c", "main.cpp"], ["g++", "-o", "prog", "main.o"]]
[run]
command = ["./prog"]
[static]
blacklist = ["system"]
[[tests]]
name = "hello"
expected = "hello"
"""


def test_cpp_system_hidden_behind_a_macro_is_caught(tmp_path: Path) -> None:
    main = (
        "#include <cstdlib>\n#include <iostream>\n#define PASTE(a, b) a##b\n"
        'int main() {\n    std::cout << "hello\\n";\n    return std::PASTE(sys, tem)("true");\n}\n'
    )
    report = _grade(tmp_path, CPP_MANIFEST, {"main.cpp": main})
    assert report.build.status is BuildStatus.PASSED, report.build.log
    assert report.score == 0
    assert report.static is not None
    assert [(f.name, f.file) for f in report.static.findings] == [("system", "main.cpp")]


def test_a_directory_the_build_makes_unreadable_is_a_finding_not_an_error(
    tmp_path: Path,
) -> None:
    link = '["gcc", "-o", "prog", "main.o", "twice.o"],'
    hide = '\n    ["sh", "-c", "mkdir hide && chmod 0 hide"],'
    manifest = C_MANIFEST.replace("{static}", 'effect = "deduct"').replace(link, link + hide)
    report = _grade(tmp_path, manifest, {"main.c": CLEAN, "twice.c": TWICE})
    assert report.status is ReportStatus.GRADED
    assert report.static is not None
    assert [f.name for f in report.static.findings] == ["<unchecked>"]
    assert report.score == 4


def test_an_instructor_header_does_not_hide_the_students_object(tmp_path: Path) -> None:
    # support/twice.h belongs to the instructor; twice.o is still the student's
    (tmp_path / "support").mkdir()
    (tmp_path / "support" / "twice.h").write_text("int twice(int);\n")
    hidden = (
        "#include <stdlib.h>\n#define RUN(c) sys##tem(c)\n"
        'int twice(int x) { RUN("true"); return 2 * x; }\n'
    )
    report = _grade(
        tmp_path, C_MANIFEST.replace("{static}", ""), {"main.c": CLEAN, "twice.c": hidden}
    )
    assert report.static is not None
    assert [(f.name, f.file) for f in report.static.findings] == [("system", "twice.c")]
    assert report.score == 0
