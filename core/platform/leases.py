"""Leases: a row-level lock in the database so one instance of several runs a job.

``acquire`` succeeds when the lease is free, expired, or already ours; a holder
renews by acquiring again before ``expires_at``. Works the same on SQLite and PostgreSQL.

A holder is an instance's stable name (jobs.INSTANCE: INSTANCE_ID, or its deployment slot),
so a bot restarted after a crash takes its own leases back at once instead of waiting for
them to expire. ``since`` is when the current holder took the lease; it is kept while the
same holder renews or takes it again. ``release`` keeps the row (who ran the job last) but
frees it for anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.platform.schema import leases, utcnow

FREE = datetime(2000, 1, 1, tzinfo=UTC)  # expires_at of a released lease: long past for any clock


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    since: datetime | None
    expires_at: datetime

    def held(self, now: datetime) -> bool:
        return self.expires_at > now


def acquire(conn: Connection, name: str, holder: str, ttl_seconds: int, now: datetime | None = None) -> bool:
    now = now or utcnow()
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[conn.dialect.name]
    ins = dialect.insert(leases).values(
        name=name, holder=holder, expires_at=now + timedelta(seconds=ttl_seconds), since=now
    )
    stmt = ins.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={
            "holder": ins.excluded.holder,
            "expires_at": ins.excluded.expires_at,
            "since": case(
                ((leases.c.holder == ins.excluded.holder) & leases.c.since.is_not(None), leases.c.since),
                else_=ins.excluded.since,
            ),
        },
        where=(leases.c.expires_at < now) | (leases.c.holder == holder),
    ).returning(leases.c.holder)
    return conn.execute(stmt).scalar() == holder


def release(conn: Connection, name: str, holder: str) -> None:
    conn.execute(
        update(leases).where(leases.c.name == name, leases.c.holder == holder).values(expires_at=FREE)
    )


def all_leases(conn: Connection) -> list[Lease]:
    """Every job's lease row, by name: held ones and the last holder of free ones."""
    rows = conn.execute(select(leases).order_by(leases.c.name))
    return [Lease(r.name, r.holder, r.since, r.expires_at) for r in rows]
