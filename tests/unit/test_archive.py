"""Safe extraction: every refusal is shown with a real, crafted zip or tar archive."""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest

from assay.errors import SubmissionError
from assay.grading import archive as archive_module
from assay.grading.archive import ArchiveLimits, extract_archive, is_archive
from assay.grading.submission import load_submission

LIMITS = ArchiveLimits(max_total_bytes=1024 * 1024, max_entries=50)
MIB = 1024 * 1024


# --- crafting helpers ---------------------------------------------------------------------------


def make_zip(path: Path, entries: list[tuple[str, bytes, int | None]]) -> Path:
    """entries: (name, data, unix mode incl. file type bits or None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names; we want them
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data, mode in entries:
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                if mode is not None:
                    info.create_system = 3
                    info.external_attr = mode << 16
                zf.writestr(info, data)
    return path


def tar_member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if kind in {tarfile.SYMTYPE, tarfile.LNKTYPE}:
        info.linkname = "target.txt"
    return info, (data if kind == tarfile.REGTYPE else None)


def make_tar(path: Path, members: list, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def extract(archive: Path, tmp_path: Path, limits: ArchiveLimits = LIMITS) -> Path:
    out = tmp_path / "out"
    extract_archive(archive, out, limits)
    return out


def refused(archive: Path, tmp_path: Path, limits: ArchiveLimits = LIMITS) -> str:
    with pytest.raises(SubmissionError) as info:
        extract(archive, tmp_path, limits)
    return info.value.message


# --- what is accepted ---------------------------------------------------------------------------


def test_zip_files_and_dirs_are_extracted_with_safe_modes(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "s.zip",
        [
            ("src/", b"", stat.S_IFDIR | 0o777),
            ("src/main.py", b"print(1)\n", stat.S_IFREG | 0o600),
            ("run.sh", b"#!/bin/sh\n", stat.S_IFREG | 0o4777),
            ("plain.txt", b"no unix mode", None),
        ],
    )
    out = extract(archive, tmp_path)
    assert (out / "src/main.py").read_bytes() == b"print(1)\n"
    assert stat.S_IMODE((out / "src").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "src/main.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "run.sh").stat().st_mode) == 0o755  # setuid dropped, x kept
    assert stat.S_IMODE((out / "plain.txt").stat().st_mode) == 0o644


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tar_in_each_compression_is_extracted(tmp_path: Path, mode: str) -> None:
    archive = make_tar(
        tmp_path / "s.tar",
        [
            tar_member("pkg", kind=tarfile.DIRTYPE, mode=0o700),
            tar_member("pkg/a.c", b"int main(void){return 0;}\n", mode=0o666),
            tar_member("pkg/build.sh", b"make\n", mode=0o6750),
        ],
        mode=mode,
    )
    out = extract(archive, tmp_path)
    assert (out / "pkg/a.c").read_text() == "int main(void){return 0;}\n"
    assert stat.S_IMODE((out / "pkg").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "pkg/a.c").stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "pkg/build.sh").stat().st_mode) == 0o755


def test_windows_backslash_names_become_directories(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "w.zip", [("src\\main.c", b"x", None)])
    out = extract(archive, tmp_path)
    assert (out / "src" / "main.c").read_bytes() == b"x"


def test_is_archive_by_name_and_by_content(tmp_path: Path) -> None:
    zipped = make_zip(tmp_path / "upload", [("a.txt", b"a", None)])  # no suffix: sniffed
    tarred = make_tar(tmp_path / "upload2", [tar_member("a.txt", b"a")], mode="w:gz")
    plain_tar = make_tar(tmp_path / "upload3", [tar_member("a.txt", b"a")], mode="w")
    text = tmp_path / "main.py"
    text.write_text("print('PK')\n")
    gz_not_tar = tmp_path / "data"
    gz_not_tar.write_bytes(gzip.compress(b"just some text, not a tar"))
    jar = make_zip(tmp_path / "Main.jar", [("Main.class", b"\xca\xfe", None)])
    assert is_archive(zipped)
    assert is_archive(tarred)
    assert is_archive(plain_tar)
    assert not is_archive(text)
    assert not is_archive(gz_not_tar)
    assert not is_archive(jar)
    assert is_archive(tmp_path / "anything.tar.gz")  # by name, even before it exists


# --- refusals, zip ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.txt", "'..'"),
        ("a/../../evil.txt", "'..'"),
        ("..\\evil.txt", "'..'"),
        ("/etc/passwd", "absolute"),
        ("\\\\server\\share.txt", "absolute"),
        ("C:\\Windows\\x.txt", "absolute"),
        ("bad\nname.txt", "control character"),
    ],
)
def test_zip_unsafe_names_are_refused(tmp_path: Path, name: str, why: str) -> None:
    message = refused(make_zip(tmp_path / "x.zip", [(name, b"x", None)]), tmp_path)
    assert why in message
    assert repr(name) in message  # the entry is named
    assert not (tmp_path / "evil.txt").exists()


def test_zip_nul_in_name_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "n.zip", [("aXb.txt", b"x", None)])
    archive.write_bytes(archive.read_bytes().replace(b"aXb.txt", b"a\x00b.txt"))
    assert "NUL" in refused(archive, tmp_path)


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "l.zip", [("link", b"/etc/passwd", stat.S_IFLNK | 0o777)])
    message = refused(archive, tmp_path)
    assert "symbolic link" in message
    assert not (tmp_path / "out" / "link").exists()


@pytest.mark.parametrize("kind", [stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK])
def test_zip_devices_and_fifos_are_refused(tmp_path: Path, kind: int) -> None:
    archive = make_zip(tmp_path / "d.zip", [("dev", b"", kind | 0o666)])
    assert "device" in refused(archive, tmp_path)


def test_zip_duplicate_names_are_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "d.zip", [("a.txt", b"1", None), ("./a.txt", b"2", None)])
    assert "appears twice" in refused(archive, tmp_path)


def test_zip_file_then_directory_of_the_same_name_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "c.zip", [("a", b"1", None), ("a/b.txt", b"2", None)])
    assert "needs a directory" in refused(archive, tmp_path)


def test_zip_bomb_stops_at_the_total_limit(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", [("zeros", bytes(8 * MIB), None)])
    assert archive.stat().st_size < 64 * 1024  # small on disk, 8 MiB inside
    assert "1048576" in refused(archive, tmp_path)


def test_total_is_measured_across_entries_not_from_headers(tmp_path: Path) -> None:
    # each entry is under every per-entry check; only the running total catches them
    entries = [(f"f{i}", bytes(300 * 1024), None) for i in range(5)]
    message = refused(make_zip(tmp_path / "many.zip", entries), tmp_path)
    assert "past its limit" in message
    assert "'f3'" in message  # the fourth file crosses 1 MiB


def test_zip_lying_small_size_header_is_refused(tmp_path: Path) -> None:
    data = b"A" * 4096
    archive = make_zip(tmp_path / "lie.zip", [("a.txt", data, None)])
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("a.txt")
    # claim 16 bytes in the central directory: the CRC no longer matches what is read
    size_le = info.file_size.to_bytes(4, "little")
    raw = raw.replace(size_le, (16).to_bytes(4, "little"))
    archive.write_bytes(bytes(raw))
    assert "not a valid archive" in refused(archive, tmp_path)


def test_per_file_limit(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "big.zip", [("big.bin", bytes(2048), None)])
    limits = ArchiveLimits(max_total_bytes=MIB, max_entries=10, max_file_bytes=1024)
    assert "per-file limit" in refused(archive, tmp_path, limits)


def test_entry_count_limit(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "n.zip", [(f"f{i}", b"", None) for i in range(11)])
    limits = ArchiveLimits(max_total_bytes=MIB, max_entries=10)
    assert "more than 10 entries" in refused(archive, tmp_path, limits)


def test_depth_limit(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "deep.zip", [("/".join(["d"] * 5) + "/f", b"", None)])
    limits = ArchiveLimits(max_total_bytes=MIB, max_entries=10, max_depth=4)
    assert "deeper than 4" in refused(archive, tmp_path, limits)


def test_encrypted_zip_entry_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "e.zip", [("secret.txt", b"x", None)])
    raw = bytearray(archive.read_bytes())
    raw[6] |= 0x1  # local header flag bits
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 8] |= 0x1  # central directory flag bits
    archive.write_bytes(bytes(raw))
    assert "encrypted" in refused(archive, tmp_path)


def test_garbage_with_an_archive_name_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"this is not a zip file at all")
    assert "not a zip or tar archive" in refused(fake, tmp_path)
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    assert "not a valid archive" in refused(bad_zip, tmp_path)


# --- refusals, tar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        (tarfile.SYMTYPE, "link"),
        (tarfile.LNKTYPE, "link"),
        (tarfile.CHRTYPE, "device"),
        (tarfile.BLKTYPE, "device"),
        (tarfile.FIFOTYPE, "FIFO"),
        (b"V", "unsupported type"),
    ],
)
def test_tar_non_regular_entries_are_refused(tmp_path: Path, kind: bytes, why: str) -> None:
    archive = make_tar(tmp_path / "t.tar.gz", [tar_member("entry", kind=kind)])
    message = refused(archive, tmp_path)
    assert why in message
    assert "'entry'" in message
    assert not (tmp_path / "out" / "entry").exists()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.txt", "'..'"),
        ("ok/../../evil.txt", "'..'"),
        ("/tmp/evil.txt", "absolute"),
        ("..\\evil.txt", "'..'"),
        ("tab\there.txt", "control character"),
    ],
)
def test_tar_unsafe_names_are_refused(tmp_path: Path, name: str, why: str) -> None:
    archive = make_tar(tmp_path / "t.tgz", [tar_member(name, b"x")])
    assert why in refused(archive, tmp_path)
    assert not (tmp_path / "evil.txt").exists()


def test_tar_duplicates_are_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "t.tar", [tar_member("a.c", b"1"), tar_member("a.c", b"2")])
    assert "appears twice" in refused(archive, tmp_path)


def test_tar_gz_bomb_stops_at_the_total_limit(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "bomb.tar.gz", [tar_member("zeros", bytes(8 * MIB))])
    assert archive.stat().st_size < 64 * 1024
    assert "past its limit" in refused(archive, tmp_path)


def test_tar_huge_long_name_header_stops_at_the_stream_budget(tmp_path: Path) -> None:
    # a GNU long-name header whose "name" is 32 MiB: the tar reader would read it whole
    header = tarfile.TarInfo("././@LongLink")
    header.type = tarfile.GNUTYPE_LONGNAME
    header.size = 32 * MIB
    raw = header.tobuf(format=tarfile.USTAR_FORMAT) + bytes(32 * MIB) + bytes(1024)
    archive = tmp_path / "longname.tar.gz"
    archive.write_bytes(gzip.compress(raw))
    assert "larger than allowed once decompressed" in refused(archive, tmp_path)


def test_truncated_tar_gz_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "t.tar.gz", [tar_member("a.txt", b"hello" * 1000)])
    archive.write_bytes(archive.read_bytes()[:40])
    message = refused(archive, tmp_path)
    assert "t.tar.gz" in message


def test_load_submission_uses_safe_extraction(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "sub.zip", [("../escape.py", b"x", None)])
    with pytest.raises(SubmissionError, match=r"'\.\.'"):
        load_submission(archive)
    good = make_zip(tmp_path / "good.zip", [("main.py", b"print(1)\n", None)])
    assert load_submission(good).as_mapping() == {"main.py": b"print(1)\n"}


def test_an_os_error_while_extracting_names_no_host_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(_path: Path, _writer: object) -> None:
        raise OSError(28, "No space left on device", "/srv/assay/state/tmp/assay-upload-x/f")

    monkeypatch.setattr(archive_module, "_extract_zip", failing)
    message = refused(make_zip(tmp_path / "ok.zip", [("a.py", b"x", None)]), tmp_path)
    assert message == "cannot extract ok.zip: No space left on device"
