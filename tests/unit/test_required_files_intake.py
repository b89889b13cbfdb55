"""Intake's handling of ``[build] required_files``: one top folder unwrapped, and a
missing or misnamed required file described with both names."""

from __future__ import annotations

from assay.files.fileset import FileSet
from assay.services.intake.submissions import missing_required, unwrapped


def files(*paths: str) -> FileSet:
    return FileSet.from_mapping(dict.fromkeys(paths, b"x"))


def paths(fileset: FileSet) -> list[str]:
    return [f.path for f in fileset]


def test_one_top_folder_holding_the_required_files_is_taken_off() -> None:
    got = unwrapped(files("work/hello.c", "work/lib/util.h"), ["hello.c"])
    assert paths(got) == ["hello.c", "lib/util.h"]
    nested = unwrapped(files("proj/src/Main.java"), ["src/Main.java"])
    assert paths(nested) == ["src/Main.java"]


def test_nothing_is_unwrapped_unless_it_is_clearly_a_wrapper() -> None:
    for given, required in (
        (files("work/hello.c"), []),  # no required files: the folder may be expected
        (files("hello.c", "work/hello.c"), ["hello.c"]),  # already at the top
        (files("work/hello.c", "notes.txt"), ["hello.c"]),  # a file beside the folder
        (files("a/hello.c", "b/x.c"), ["hello.c"]),  # two folders
        (files("a/b/hello.c"), ["hello.c"]),  # two levels deep
    ):
        assert unwrapped(given, required) is given


def test_missing_and_misnamed_required_files_name_both_names() -> None:
    assert missing_required(files("hello.c"), ["hello.c"]) == []
    [case] = missing_required(files("Hello.c"), ["hello.c"])
    assert "'Hello.c'" in case and "'hello.c'" in case and "only in case" in case
    [elsewhere] = missing_required(files("src/hello.c"), ["hello.c"])
    assert "'src/hello.c'" in elsewhere and "'hello.c'" in elsewhere
    [gone] = missing_required(files("main.c"), ["hello.c"])
    assert gone == "the required file 'hello.c' is missing"
    assert len(missing_required(files("x"), ["a.c", "b.c"])) == 2
