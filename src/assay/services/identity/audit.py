"""The audit log: who changed what, when (and who exported grades).

``record`` adds an entry to a write transaction; ``record_read`` notes one for a
read (a GET never waits for the writer), written within seconds by the platform's
``write_behind`` with the time of the read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.services.actor import Actor
from assay.services.identity.access import require_admin
from assay.services.platform import Platform
from assay.storage.models import AuditEntry, utcnow


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    action: str
    target: str
    detail: dict[str, Any]
    client: str


def _columns(actor: Actor, action: str, target: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "actor_id": actor.user_id,
        "action": action,
        "target": target,
        "detail": {"by": actor.username, **detail},
        "client": actor.client,
    }


def record(session: Session, actor: Actor, action: str, target: str = "", **detail: Any) -> None:
    session.add(AuditEntry(**_columns(actor, action, target, detail)))


def record_read(
    platform: Platform, actor: Actor, action: str, target: str = "", **detail: Any
) -> None:
    """An entry for a read, written behind it (see the module docstring)."""
    entry = {**_columns(actor, action, target, detail), "at": utcnow()}
    platform.write_behind.audit(platform.db, entry)


def list_entries(
    platform: Platform,
    actor: Actor,
    *,
    action: str | None = None,
    target: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditOut]:
    """The audit log, newest first (administrators)."""
    require_admin(actor)
    with platform.db.reading() as session:
        query = select(AuditEntry)
        if action:
            query = query.where(AuditEntry.action == action)
        if target:
            query = query.where(AuditEntry.target == target)
        rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
        return [
            AuditOut(
                id=e.id,
                at=e.at,
                actor_id=e.actor_id,
                action=e.action,
                target=e.target,
                detail=e.detail,
                client=e.client,
            )
            for e in rows
        ]
