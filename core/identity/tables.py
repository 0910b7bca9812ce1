"""Identity's tables: users (more join as identity grows)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table, false, func

from core.platform import UTCDateTime, metadata

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
