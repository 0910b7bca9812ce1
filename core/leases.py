"""Leases: a row-level lock in the database so one instance of several runs a job.

``acquire`` succeeds when the lease is free, expired, or already ours; a holder
renews by acquiring again before ``expires_at``. Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete
from sqlalchemy.dialects import postgresql, sqlite

from core.schema import leases, utcnow


def acquire(conn: Connection, name: str, holder: str, ttl_seconds: int, now: datetime | None = None) -> bool:
    now = now or utcnow()
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[conn.dialect.name]
    ins = dialect.insert(leases).values(
        name=name, holder=holder, expires_at=now + timedelta(seconds=ttl_seconds)
    )
    stmt = ins.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": ins.excluded.holder, "expires_at": ins.excluded.expires_at},
        where=(leases.c.expires_at < now) | (leases.c.holder == holder),
    ).returning(leases.c.holder)
    return conn.execute(stmt).scalar() == holder


def release(conn: Connection, name: str, holder: str) -> None:
    conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))
