"""Memcheck XML reports (real ones, made by valgrind 3.19 in the native sandbox) and forgeries.

The fixtures were produced by compiling tests/fixtures/valgrind/<name>.c with
``gcc -g -O0`` in a native sandbox (workspace /work) and running it through
``assay.grading.valgrind.memcheck_argv``; the XML is the run's stderr.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.grading.valgrind import (
    MAX_XML_BYTES,
    UnreadableReportError,
    memcheck_argv,
    parse_memcheck_xml,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "valgrind"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.xml").read_bytes()


def test_leaks_have_bytes_allocation_site_and_stack() -> None:
    report = parse_memcheck_xml(fixture("leak"))
    leaks = report.counted(leaks=True, errors=True)
    assert [(f.kind, f.bytes, f.file, f.line) for f in leaks] == [
        ("Leak_DefinitelyLost", 32, "leak.c", 6),
        ("Leak_DefinitelyLost", 100, "leak.c", 15),
    ]
    first = leaks[0]
    assert first.stack == (
        "malloc (vgpreload_memcheck-amd64-linux.so)",
        "push (leak.c:6)",
        "main (leak.c:13)",
    )
    assert first.message.startswith("32 (16 direct, 16 indirect) bytes in 1 blocks")
    assert first.message.endswith("at leak.c:6")
    assert report.counted(leaks=False, errors=True) == ()


def test_invalid_accesses_have_the_students_file_and_line() -> None:
    report = parse_memcheck_xml(fixture("invalid"))
    found = [(f.kind, f.file, f.line) for f in report.findings]
    assert found == [
        ("InvalidRead", "invalid.c", 7),
        ("InvalidWrite", "invalid.c", 8),
        ("UninitCondition", "invalid.c", 10),
        ("InvalidFree", "invalid.c", 12),
    ]
    read = report.findings[0]
    assert read.message.startswith("Invalid read of size 4 (Address ")
    assert "0 bytes after a block of size 40 alloc'd" in read.message
    assert report.counted(leaks=True, errors=False) == ()


def test_clean_run_has_no_findings() -> None:
    report = parse_memcheck_xml(fixture("clean"))
    assert report.findings == () and report.fatal_signal is None and report.fatal_at is None


def test_fatal_signal_names_the_line() -> None:
    report = parse_memcheck_xml(fixture("segv"))
    assert (report.fatal_signal, report.fatal_at) == ("SIGSEGV", "segv.c:6")
    assert [(f.kind, f.line) for f in report.findings] == [("InvalidRead", 6)]


def test_frames_outside_the_workspace_are_not_the_students() -> None:
    data = fixture("invalid").replace(b"<dir>/work</dir>", b"<dir>/usr/src</dir>")
    read = parse_memcheck_xml(data).findings[0]
    assert (read.file, read.line) == (None, None)
    assert read.stack == ("main (invalid.c:7)",)


def test_harness_frames_are_not_the_students() -> None:
    data = fixture("invalid").replace(b"<dir>/work</dir>", b"<dir>/work/.assay-0011</dir>")
    assert parse_memcheck_xml(data).findings[0].file is None


# -- forgeries and garbage: the program can write into the report -----------------------------
def _hide_first_error(data: bytes) -> bytes:
    start = data.index(b"<error>")
    end = data.index(b"</error>") + len(b"</error>")
    return data[:start] + b"<!-- " + data[start:end] + b" -->" + data[end:]


def test_an_error_hidden_in_a_comment_makes_the_report_unreadable() -> None:
    data = _hide_first_error(fixture("leak"))
    with pytest.raises(UnreadableReportError, match="outside its structure"):
        parse_memcheck_xml(data)


def test_an_error_hidden_in_cdata_makes_the_report_unreadable() -> None:
    data = fixture("invalid")
    start = data.index(b"<error>")
    end = data.index(b"</error>") + len(b"</error>")
    forged = data[:start] + b"<![CDATA[" + data[start:end] + b"]]>" + data[end:]
    with pytest.raises(UnreadableReportError, match="outside its structure"):
        parse_memcheck_xml(forged)


def test_injected_errors_only_add_findings() -> None:
    data = fixture("clean")
    extra = b"<error><kind>InvalidRead</kind><what>Invalid read</what></error>"
    forged = data.replace(b"<errorcounts>", extra + b"<errorcounts>", 1)
    assert [f.kind for f in parse_memcheck_xml(forged).findings] == ["InvalidRead"]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "no report"),
        (b"<valgrindoutput><protocoltool>memcheck</protocoltool>", "incomplete or unreadable"),
        (b"<x/>", "not a memcheck report"),
        (
            b"<valgrindoutput><protocoltool>helgrind</protocoltool></valgrindoutput>",
            "not a memcheck",
        ),
        (
            b"<valgrindoutput><protocoltool>memcheck</protocoltool>"
            b"<status><state>RUNNING</state></status></valgrindoutput>",
            "did not finish",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            b"<valgrindoutput>&b;</valgrindoutput>",
            "incomplete or unreadable",
        ),
        (b"\x00\xff<valgrindoutput>", "incomplete or unreadable"),
    ],
)
def test_garbage_is_unreadable(data: bytes, match: str) -> None:
    with pytest.raises(UnreadableReportError, match=match):
        parse_memcheck_xml(data)


def test_a_report_cut_short_is_unreadable() -> None:
    data = fixture("leak")
    with pytest.raises(UnreadableReportError):
        parse_memcheck_xml(data[: len(data) // 2])


def test_size_cap() -> None:
    data = fixture("clean")
    padded = data.replace(b"<errorcounts>", b" " * MAX_XML_BYTES + b"<errorcounts>", 1)
    with pytest.raises(UnreadableReportError, match="larger than"):
        parse_memcheck_xml(padded)


def test_malformed_numbers_and_long_texts_are_bounded() -> None:
    data = fixture("leak").replace(b"<leakedbytes>100</", b"<leakedbytes>-5</", 1)
    data = data.replace(b"<line>15</line>", b"<line>" + b"9" * 40 + b"</line>", 1)
    data = data.replace(b"<fn>main</fn>", b"<fn>" + b"m" * 5000 + b"</fn>", 1)
    report = parse_memcheck_xml(data)
    second = report.findings[1]
    assert second.bytes is None and second.line is None
    assert all(len(frame) < 400 for f in report.findings for frame in f.stack)


def test_memcheck_argv_keeps_the_command_out_of_the_shell() -> None:
    argv = memcheck_argv(".assay-vg-1/stderr.txt", ["./prog", "a b", "$(rm -rf /)"])
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == [".assay-vg-1/stderr.txt", "./prog", "a b", "$(rm -rf /)"]
    script = argv[2]
    assert script.startswith('exec 3>&2 2>"$0"; exec valgrind ')
    assert "--xml-fd=3" in script and "--leak-check=full" in script
    assert "--errors-for-leak-kinds=definite,indirect" in script
    assert "--child-silent-after-fork=yes" in script
    assert script.endswith(' "$@"')
