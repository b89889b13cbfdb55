"""The one rule for the names of submitted files, applied wherever files come in.

JSON and multipart submissions, archive entries, git commits and the files a
code-execution request is graded with all pass through ``split_name``, so a name
the sandbox could not create (a component over Linux's NAME_MAX of 255 bytes, a
NUL) is refused at intake with a clear message instead of failing grading later
as an infrastructure error.

A name is a relative POSIX path (backslashes are read as separators, as Windows
zip tools write them) of 1 to ``MAX_DEPTH`` components, each 1 to
``MAX_COMPONENT_BYTES`` bytes of UTF-8, ``MAX_PATH_BYTES`` in all, with no
control character (C0, DEL or C1), no ``..`` and no absolute or drive prefix.
Empty and ``.`` components are refused, except in archives (``lenient``), where
tools write ``./main.c`` and ``dir/`` routinely.
"""

from __future__ import annotations

import re

from assay.errors import FileNameError

MAX_COMPONENT_BYTES = 255  # NAME_MAX of Linux filesystems
MAX_PATH_BYTES = 1024  # the whole relative path; far below PATH_MAX (4096) with any prefix
MAX_DEPTH = 32  # components
SHOWN_CHARS = 60  # of a refused name, in the message
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def shown(name: str) -> str:
    """A name for a message: quoted, escaped, long ones cut in the middle."""
    if len(name) > SHOWN_CHARS:
        name = f"{name[: SHOWN_CHARS // 2]}...{name[-SHOWN_CHARS // 4 :]}"
    return repr(name)


def split_name(raw: str, *, lenient: bool = False) -> tuple[str, ...]:
    """The components of the file name ``raw``; ``FileNameError`` says why it is refused.

    ``lenient`` (archive entries) drops empty and ``.`` components and allows none
    at all (the archive's root directory); otherwise they are refused.
    """

    def refuse(why: str) -> FileNameError:
        return FileNameError(shown(raw), why)

    if _CONTROL.search(raw):
        raise refuse("has a NUL or control character")
    try:
        size = len(raw.encode("utf-8"))
    except UnicodeEncodeError:
        raise refuse("is not valid UTF-8") from None
    if size > MAX_PATH_BYTES:
        raise refuse(f"is {size} bytes long; a path may be at most {MAX_PATH_BYTES} bytes")
    name = raw.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        raise refuse("is an absolute path; give a path relative to the submission")
    parts = tuple(name.split("/"))
    if lenient:
        parts = tuple(p for p in parts if p not in {"", "."})
    elif not name:
        raise refuse("is empty")
    elif any(p in {"", "."} for p in parts):
        raise refuse("has an empty or '.' component (as in 'a//b', 'a/./b' or 'dir/')")
    if ".." in parts:
        raise refuse("leaves its folder ('..' in its path)")
    if len(parts) > MAX_DEPTH:
        raise refuse(f"is nested deeper than {MAX_DEPTH} directories")
    for part in parts:
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise refuse(
                f"has a component of {len(part.encode('utf-8'))} bytes; "
                f"each may be at most {MAX_COMPONENT_BYTES} bytes"
            )
    return parts


def check_name(raw: str) -> str:
    """``raw`` as a normalised relative path (backslashes as separators), or FileNameError."""
    return "/".join(split_name(raw))
