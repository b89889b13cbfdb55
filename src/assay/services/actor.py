"""Who is doing something."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The caller: a user (``user_id``) or the system itself (CLI on the server, workers)."""

    user_id: int | None
    username: str
    is_admin: bool = False
    client: str = ""  # the client's address, for the audit log and rate limits

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(user_id=None, username=name, is_admin=True)

    @property
    def is_system(self) -> bool:
        return self.user_id is None
