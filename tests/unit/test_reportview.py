"""The submission page's server-side pieces: line diffs and test inputs read from a package."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from assay.services.catalog import packages
from assay.web.ui.reportview import MAX_DIFF_LINES, DiffLine, _inputs_of_package, line_diff

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "assignments"


def kinds(rows: list[DiffLine]) -> list[tuple[str, str]]:
    return [(r.kind, "".join(s.text for s in r.segments)) for r in rows]


def test_equal_outputs_are_all_same_rows() -> None:
    rows, truncated = line_diff("a\nb\n", "a\nb\n")
    assert kinds(rows) == [("same", "a"), ("same", "b")]
    assert [(r.expected_no, r.actual_no) for r in rows] == [(1, 1), (2, 2)]
    assert not truncated


def test_a_changed_line_marks_only_the_differing_characters() -> None:
    rows, _ = line_diff("count 3\npassed 2\n", "count 3\npassed 1\n")
    assert kinds(rows) == [("same", "count 3"), ("expected", "passed 2"), ("actual", "passed 1")]
    expected, actual = rows[1], rows[2]
    assert [(s.text, s.changed) for s in expected.segments] == [("passed ", False), ("2", True)]
    assert [(s.text, s.changed) for s in actual.segments] == [("passed ", False), ("1", True)]
    assert (expected.expected_no, expected.actual_no) == (2, None)
    assert (actual.expected_no, actual.actual_no) == (None, 2)


def test_missing_and_extra_lines_are_whole_rows() -> None:
    rows, _ = line_diff("a\nb\nc\n", "a\nc\nd\ne\n")
    assert kinds(rows) == [
        ("same", "a"),
        ("expected", "b"),
        ("same", "c"),
        ("actual", "d"),
        ("actual", "e"),
    ]
    assert all(not s.changed for r in rows for s in r.segments)


def test_markup_stays_plain_text_in_the_rows() -> None:
    rows, _ = line_diff("ok\n", "<script>alert(1)</script>\n")
    assert kinds(rows) == [("expected", "ok"), ("actual", "<script>alert(1)</script>")]


def test_long_outputs_are_cut_and_say_so() -> None:
    many = "\n".join(str(i) for i in range(MAX_DIFF_LINES + 50))
    rows, truncated = line_diff(many, many + "\nextra")
    assert truncated
    assert len(rows) == MAX_DIFF_LINES


def test_inputs_come_from_the_package_stdin_args_and_files() -> None:
    data = packages.pack_directory(EXAMPLES / "python-io")
    inputs = _inputs_of_package("python-io-tar", data)
    assert inputs["sample-2"].stdin == "50\n49\n100\n"
    assert inputs["no-scores"].stdin == ""
    from_file = inputs["scores-from-a-file"]
    assert (from_file.stdin, from_file.args, from_file.files) == (
        None,
        ["scores.txt"],
        ["scores.txt"],
    )
    many = inputs["a-thousand-scores"]  # stdin_file, read from the archive
    assert many.stdin == (EXAMPLES / "python-io" / "tests" / "many.in").read_text()
    assert not many.truncated


def test_inputs_from_a_zip_that_wraps_the_package_in_a_directory() -> None:
    buffer = io.BytesIO()
    root = EXAMPLES / "python-io"
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, "python-io/" + path.relative_to(root).as_posix())
    inputs = _inputs_of_package("python-io-zip", buffer.getvalue())
    assert inputs["sample-1"].stdin == "72 95 40 88 61\n"
    assert inputs["a-thousand-scores"].stdin


def test_a_broken_package_gives_no_inputs_rather_than_an_error() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("assignment.toml", "this is [not toml")
    assert _inputs_of_package("broken", buffer.getvalue()) == {}
