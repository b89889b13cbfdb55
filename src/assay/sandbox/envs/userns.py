"""Run a command in a user namespace of its own, uids and gids 0..65535 mapped to themselves.

``python -I userns.py -- COMMAND...`` (``identity_userns_argv``): the process
unshares a user namespace, a forked child still in the caller's namespace writes
its ``uid_map`` and ``gid_map`` (``0 0 65536``), and the process then executes
``COMMAND`` as uid 0 of the new namespace. Files keep exactly the owners they
would get from the caller (dpkg's chowns to system users land on the same
numbers), while every capability the command holds counts in that namespace only
(the namespaces it creates are owned by it; the host's are not).

The caller must be root (writing a map of 65536 ids needs ``CAP_SETUID`` and
``CAP_SETGID`` over the new namespace's parent). util-linux's ``unshare
--map-users`` is not used because it asks ``newuidmap``, which lets root map
only the ranges ``/etc/subuid`` gives it. The module needs nothing but the
standard library, so it runs with ``-I`` and starts fast.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence

CLONE_NEWUSER = 0x10000000
MAPPED_IDS = 65536
"""uids and gids 0..65535 are mapped; anything above shows as the overflow id (65534)."""
FAILED = 125
"""Exit status when the namespace could not be made (as ``env`` and ``unshare`` do)."""


def identity_userns_argv(argv: Sequence[str], python: str = sys.executable) -> list[str]:
    """``argv`` run in a user namespace of its own with the identity map on 0..65535."""
    return [python, "-I", os.path.abspath(__file__), "--", *argv]


def _unshare_user() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(CLONE_NEWUSER): {os.strerror(error)}")


def _write_maps(pid: int, unshared: int) -> int:
    """In the forked child: wait for the parent's unshare, then write its maps."""
    if os.read(unshared, 1) != b"u":
        return FAILED  # the parent could not unshare (it says why)
    try:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w", encoding="ascii") as file:
                file.write(f"0 0 {MAPPED_IDS}\n")
    except OSError as exc:
        print(f"userns: cannot write /proc/{pid}/{name}: {exc.strerror}", file=sys.stderr)
        return FAILED
    return 0


def main(args: Sequence[str]) -> int:
    if len(args) < 2 or args[0] != "--":
        print("usage: userns.py -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    command = list(args[1:])
    pid = os.getpid()
    unshared, tell = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(tell)
        os._exit(_write_maps(pid, unshared))
    os.close(unshared)
    try:
        _unshare_user()
    except OSError as exc:
        print(f"userns: {exc.strerror}", file=sys.stderr)
        os.close(tell)
        os.waitpid(child, 0)
        return FAILED
    os.write(tell, b"u")
    os.close(tell)
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return FAILED
    try:
        os.execvp(command[0], command)  # noqa: S606 - an argv list, as given
    except OSError as exc:
        print(f"userns: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
    return FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
