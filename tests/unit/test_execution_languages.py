"""The code-execution languages: Judge0's ids, versions read from a tree's dpkg status,
picobytes' names (no sandbox needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.sandbox import ENVIRONMENTS
from assay.services.execution.languages import (
    FIRST_OWN_ID,
    LANGUAGES,
    installed_versions,
    upstream_version,
)
from assay.services.execution.picobytes_languages import (
    ASSERT_LANGUAGES,
    NAMES,
    PROGRAM_LANGUAGES,
    canonical,
    source_file,
)


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [
        ("4:12.2.0-3", "12.2.0"),
        ("12.2.0-14+deb12u1", "12.2.0"),
        ("1:14.0.6-12", "14.0.6"),
        ("17.0.21.1+2-1~deb12u1", "17.0.21.1"),
        ("3.1.7+really3.1.2-0+deb12u1", "3.1.2"),
        ("4.2.2.20221110-2", "4.2.2"),
        ("1.3.31+ds1-1", "1.3.31"),
        ("2:1.19~1", "1.19"),
        ("odd", "unknown"),
    ],
)
def test_upstream_version(debian: str, upstream: str) -> None:
    assert upstream_version(debian) == upstream


def testinstalled_versions_reads_only_installed_packages(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text(
        "Package: gcc-12\nStatus: install ok installed\nPriority: optional\n"
        "Version: 12.2.0-14\nDescription: GNU C\n more text\n\n"
        "Package: clang-14\nStatus: deinstall ok config-files\nVersion: 1:14.0.6-12\n\n"
        "Package: rustc\nStatus: install ok installed\nVersion: 1.63.0+dfsg1-2\n"
    )
    assert installed_versions(status) == {"gcc-12": "12.2.0-14", "rustc": "1.63.0+dfsg1-2"}
    assert installed_versions(tmp_path / "missing") == {}


def test_every_builtin_environment_has_a_language() -> None:
    assert {lang.environment for lang in LANGUAGES.values()} == set(ENVIRONMENTS)
    own = [lid for lid in LANGUAGES if lid >= FIRST_OWN_ID]
    assert own == [1001] and LANGUAGES[1001].environment == "python3-scientific"
    for lang in LANGUAGES.values():  # the commands name the file the code is written to
        assert lang.source_file in " ".join(lang.compile_argv or lang.run_argv)


def test_picobytes_names_cover_every_environment() -> None:
    environments = set(ASSERT_LANGUAGES.values())
    environments |= {lang.environment for lang in PROGRAM_LANGUAGES.values()}
    assert environments == set(ENVIRONMENTS)
    assert canonical(" Python3 ") == "python" and canonical("C++") == "cpp"
    assert canonical("nope") == "nope" and "nope" not in NAMES
    assert source_file("c") == "solution.c" and source_file("python-scientific") == "solution.py"
    assert source_file("java") == "Main.java" and source_file("kotlin") == "Main.kt"
