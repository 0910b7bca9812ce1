"""The audit trail: who did what, written in the same transaction as the act itself."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from core.platform.schema import audit_log, utcnow


def record(
    conn: Connection,
    action: str,
    *,
    actor: int | None,
    target: str | None = None,
    now: datetime | None = None,
    **details: object,
) -> None:
    """Append one line. Never pass secrets, codes or unrevealed seeds in ``details``."""
    conn.execute(
        audit_log.insert().values(
            at=now or utcnow(),
            actor=actor,
            action=action,
            target=target,
            details=json.dumps(details, sort_keys=True, default=str),
        )
    )


@dataclass(frozen=True, slots=True)
class AuditLine:
    at: datetime
    actor: int | None
    action: str
    target: str | None
    details: dict[str, Any]


def recent(conn: Connection, limit: int = 20, actor: int | None = None) -> list[AuditLine]:
    q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor is not None:
        q = q.where(audit_log.c.actor == actor)
    return [AuditLine(r.at, r.actor, r.action, r.target, json.loads(r.details)) for r in conn.execute(q)]


def about(conn: Connection, user_id: int, limit: int = 10) -> list[AuditLine]:
    """The latest lines about a user: what was done to them (``target``) and what they did."""
    q = (
        select(audit_log)
        .where(or_(audit_log.c.target == str(user_id), audit_log.c.actor == user_id))
        .order_by(audit_log.c.id.desc())
        .limit(limit)
    )
    return [AuditLine(r.at, r.actor, r.action, r.target, json.loads(r.details)) for r in conn.execute(q)]
