"""The one ``metadata`` every table joins, the column helpers, and platform's own tables
(runtime settings, audit log, leases).

Each capability keeps its tables in one module on this ``metadata``: core/money/tables.py
(the ledger), core/identity/tables.py (users), core/play/tables.py, ...; ``load_all()``
imports every core module so Alembic and tests see every table. Money columns are BigInteger
minor units; a test asserts no column is a float. ``users``, ``accounts``, ``transfers`` and
``entries`` are still importable from here (for migrations and tests written before the
split); core modules import them from their capability.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def id_column() -> Column[int]:
    """A table's surrogate key: BIGINT on PostgreSQL, the INTEGER rowid alias on SQLite
    (only ``INTEGER PRIMARY KEY`` autoincrements there)."""
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


params = Table(
    "params",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", BigInteger, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    id_column(),
    Column("at", UTCDateTime, nullable=False),
    Column(
        "actor", BigInteger, nullable=True, comment="Telegram id of the admin or user; null for the system"
    ),
    Column("action", String(32), nullable=False),
    Column("target", String(64), nullable=True),
    Column("details", Text, nullable=False, server_default="{}"),
)
Index("ix_audit_log_actor_at", audit_log.c.actor, audit_log.c.at)
Index("ix_audit_log_target", audit_log.c.target)  # /user: the lines about a user

# A lease lets one instance of several run a job at a time (see core.platform.leases).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("since", UTCDateTime, nullable=True, comment="when the holder took the lease"),
)


# The notice outbox (core.platform.notices).
notices = Table(
    "notices",
    metadata,
    id_column(),
    Column("chat_id", BigInteger, nullable=False),
    Column("template", String(48), nullable=False),
    Column("params", Text, nullable=False, server_default="{}"),
    Column("key", String(120), nullable=True, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("outcome", String(16), nullable=True, comment="sent | blocked | failed"),
    Column("priority", SmallInteger, nullable=False, server_default="1", comment="0 high, 1 normal, 2 low"),
    Column("thread", String(120), nullable=True, comment="notices of one thread edit one message"),
    Column("message_id", BigInteger, nullable=True, comment="the message this notice was sent as"),
)
Index("ix_notices_thread", notices.c.thread)
Index("ix_notices_due", notices.c.sent_at, notices.c.due_at)


_MOVED = {
    "users": "core.identity.tables",
    "accounts": "core.money.tables",
    "transfers": "core.money.tables",
    "entries": "core.money.tables",
}


def __getattr__(name: str) -> Any:
    """The tables that moved to their capability, for ``from core.platform.schema import users``."""
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_all() -> MetaData:
    """Import every module of core so that feature tables join ``metadata``."""
    import core

    for info in pkgutil.walk_packages(core.__path__, "core."):
        importlib.import_module(info.name)
    return metadata
