"""The audit log: who changed what, when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from assay.services.actor import Actor
from assay.storage.models import AuditEntry


def record(session: Session, actor: Actor, action: str, target: str = "", **detail: Any) -> None:
    session.add(
        AuditEntry(
            actor_id=actor.user_id,
            action=action,
            target=target,
            detail={"by": actor.username, **detail},
            client=actor.client,
        )
    )
