"""The one rule for submitted file names, at its limits, and where files come in."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from assay.errors import FileNameError, SubmissionError
from assay.files.fileset import FileSet
from assay.files.names import MAX_COMPONENT_BYTES, MAX_PATH_BYTES, check_name, split_name
from assay.grading.archive import ArchiveLimits, extract_archive

LONG = "a" * 5000 + ".py"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("main.py", "main.py"),
        ("src/pkg/mod.py", "src/pkg/mod.py"),
        ("src\\win\\main.c", "src/win/main.c"),  # Windows separators
        ("ünïcödé/файл.txt", "ünïcödé/файл.txt"),
        ("x" * MAX_COMPONENT_BYTES, "x" * MAX_COMPONENT_BYTES),
        ("/".join(["d" * 200] * 5), "/".join(["d" * 200] * 5)),  # 1004 bytes
        ("with space and 'quotes'.txt", "with space and 'quotes'.txt"),
    ],
)
def test_acceptable_names(raw: str, clean: str) -> None:
    assert check_name(raw) == clean


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (LONG, f"a path may be at most {MAX_PATH_BYTES} bytes"),
        ("x" * (MAX_COMPONENT_BYTES + 1), f"each may be at most {MAX_COMPONENT_BYTES} bytes"),
        ("é" * 128, "component of 256 bytes"),  # 128 characters, 256 bytes of UTF-8
        ("/".join(["d" * 200] * 5) + "/abcdefghijklmnopqrstu", "at most 1024 bytes"),
        ("a\x00b.py", "NUL or control character"),
        ("new\nline.py", "control character"),
        ("del\x7f.py", "control character"),
        ("c1\x85.py", "control character"),  # NEXT LINE, a C1 control
        ("lone\udc80surrogate.py", "not valid UTF-8"),
        ("/etc/passwd", "absolute path"),
        ("\\\\server\\share.py", "absolute path"),
        ("C:\\x.py", "absolute path"),
        ("../up.py", "'..'"),
        ("a/../../up.py", "'..'"),
        ("..\\up.py", "'..'"),
        ("", "is empty"),
        ("a//b.py", "empty or '.' component"),
        ("./a.py", "empty or '.' component"),
        ("dir/", "empty or '.' component"),
        ("/".join(["d"] * 33), "deeper than 32"),
    ],
)
def test_refused_names_say_why(raw: str, why: str) -> None:
    with pytest.raises(FileNameError) as caught:
        check_name(raw)
    assert why in caught.value.message
    assert len(caught.value.message) < 300  # a 5000-character name is not echoed whole


def test_archives_may_use_dot_and_empty_components() -> None:
    assert split_name("./src//main.c", lenient=True) == ("src", "main.c")
    assert split_name("dir/", lenient=True) == ("dir",)
    assert split_name("./", lenient=True) == ()
    with pytest.raises(FileNameError):
        split_name("./../x", lenient=True)


def test_json_and_multipart_files_follow_the_rule() -> None:
    with pytest.raises(FileNameError, match="at most 1024 bytes"):
        FileSet.from_mapping({LONG: "x"})
    with pytest.raises(FileNameError, match="NUL"):
        FileSet.from_mapping({"a\x00.py": "x"})
    with pytest.raises(SubmissionError, match="names the same file"):
        FileSet.from_mapping({"a/b.py": "1", "a\\b.py": "2"})


def test_archive_entries_follow_the_rule(tmp_path: Path) -> None:
    archive = tmp_path / "long.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ok.py", "1")
        zipped.writestr("x" * 300 + ".py", "2")
    limits = ArchiveLimits(max_total_bytes=1 << 20, max_entries=10)
    with pytest.raises(SubmissionError) as caught:
        extract_archive(archive, tmp_path / "out", limits)
    assert "each may be at most 255 bytes" in caught.value.message
    assert len(caught.value.message) < 300
