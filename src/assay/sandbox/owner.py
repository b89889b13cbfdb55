"""Which process a sandbox belongs to: ``<host>:<pid>:<token>``.

Every sandbox names the process that opened it, so that whoever outlives that
process can remove what it left (``SandboxBackend.remove_leftovers``): Docker
containers carry the whole owner in their ``assay.owner`` label; native job
cgroups (``job-<pid>-<n>``) and workspaces (``<pid>-<random>``) carry the pid,
which is unambiguous on one host while the process lives.

The random token makes an owner unique for one process's lifetime: a later
process with the same host name and pid (a restarted container's worker often
gets the same pid again) is another owner, so removing a dead process's
leftovers never touches a live one's. A forked child is a new owner.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxOwner:
    host: str
    pid: int
    token: str = ""  # "" in labels written before owners had one (``<host>:<pid>``)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}" if self.token else f"{self.host}:{self.pid}"

    @classmethod
    def parse(cls, text: str) -> SandboxOwner | None:
        """The owner ``text`` names (``<host>:<pid>[:<token>]``), or None."""
        parts = text.split(":")
        if len(parts) not in (2, 3) or "" in parts or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2] if len(parts) == 3 else "")

    @property
    def on_this_host(self) -> bool:
        return self.host == socket.gethostname()


_owners: dict[int, SandboxOwner] = {}  # pid -> owner: a forked child makes its own


def this_process() -> SandboxOwner:
    """The owner of the sandboxes this process opens (made on first use).

    No lock (nothing for a fork to inherit held): threads racing to make it
    agree on whichever ``setdefault`` stored first.
    """
    pid = os.getpid()
    owner = _owners.get(pid)
    if owner is None:
        made = SandboxOwner(socket.gethostname(), pid, secrets.token_hex(4))
        owner = _owners.setdefault(pid, made)
    return owner
