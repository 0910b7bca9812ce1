"""Tables of the core: users, the ledger, runtime settings, audit log, leases.

Features declare their own tables on the same ``metadata`` in their own modules;
``load_all()`` imports every core module so Alembic and tests see every table.
Money columns are BigInteger minor units; a test asserts no column is a float.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
    func,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def id_column() -> Column:
    """A table's surrogate key: BIGINT on PostgreSQL, the INTEGER rowid alias on SQLite
    (only ``INTEGER PRIMARY KEY`` autoincrements there)."""
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False, comment="Telegram user id"),
    Column("username", String(64), nullable=True),
    Column("first_name", String(128), nullable=False, server_default=""),
    Column("language_code", String(16), nullable=True, comment="as Telegram reports it"),
    Column("language", String(8), nullable=True, comment="chosen with /language; beats language_code"),
    Column("start_payload", String(64), nullable=True, comment="deep-link payload of the first /start"),
    Column("started_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("is_blocked", Boolean, nullable=False, server_default=false()),
)
# /credit @name and the faucet API's ``to=name`` look users up by lower(username). A username
# belongs to one user at a time: core.identity.users takes it from whoever was seen with it before.
Index("ix_users_username_lower", func.lower(users.c.username), unique=True)

# One row per (owner, asset). Owners are "user:<id>" or a system account name.
# balance is posted money; debits_pending/credits_pending are two-phase reserves.
accounts = Table(
    "accounts",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("asset", String(8), primary_key=True),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("debits_pending", BigInteger, nullable=False, server_default="0"),
    Column("credits_pending", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("debits_pending >= 0 AND credits_pending >= 0", name="pending_not_negative"),
    CheckConstraint("owner = 'world' OR balance - debits_pending >= 0", name="not_negative"),
)

# Append-only. kind: posted | pending | post | void. A post/void names the pending
# transfer it resolves (unique: each pending resolves at most once); a correction
# names the transfer it reverses.
transfers = Table(
    "transfers",
    metadata,
    id_column(),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("debit", String(64), nullable=False),
    Column("credit", String(64), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("code", String(32), nullable=False),
    Column("meta", Text, nullable=False, server_default="{}"),
    Column("pending_id", BigInteger, ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("reverses_id", BigInteger, ForeignKey("transfers.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit <> credit", name="two_accounts"),
)

# One row per leg of a posted transfer: -amount on the debit side, +amount on the credit.
entries = Table(
    "entries",
    metadata,
    id_column(),
    Column("transfer_id", BigInteger, ForeignKey("transfers.id"), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
)
Index("ix_entries_owner_id", entries.c.owner, entries.c.id)

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

# A lease lets one instance of several run a job at a time (see core.platform.leases).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("since", UTCDateTime, nullable=True, comment="when the holder took the lease"),
)


def load_all() -> MetaData:
    """Import every module of core so that feature tables join ``metadata``."""
    import core

    for info in pkgutil.walk_packages(core.__path__, "core."):
        importlib.import_module(info.name)
    return metadata
