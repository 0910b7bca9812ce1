"""Identity's tables: users (more join as identity grows)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, false, func

from core.platform import UTCDateTime, id_column, metadata

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
    # core.identity.standing: an admin's ban (everything but reading stops) or freeze (withdrawals
    # and money sent to others stop); the balance is kept either way.
    Column("banned_at", UTCDateTime, nullable=True),
    Column("ban_reason", String(200), nullable=True),
    Column("banned_by", BigInteger, nullable=True),
    Column("frozen_at", UTCDateTime, nullable=True),
    Column("freeze_reason", String(200), nullable=True),
    Column("frozen_by", BigInteger, nullable=True),
    Column("appealed_at", UTCDateTime, nullable=True, comment="last /appeal: one an hour"),
)
# /credit @name and the faucet API's ``to=name`` look users up by lower(username). A username
# belongs to one user at a time: core.identity.users takes it from whoever was seen with it before.
Index("ix_users_username_lower", func.lower(users.c.username), unique=True)

# core.identity.captcha
challenges = Table(
    "captcha_challenges",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("purpose", String(16), nullable=False, comment="the feature that asked: faucet, ads, ..."),
    Column("subject", String(32), nullable=False, comment="what a right answer unlocks, e.g. the coin"),
    Column("kind", String(12), nullable=False, comment="buttons | turnstile | hcaptcha (emoji: before 0013)"),
    Column("options", String(200), nullable=False, comment="JSON list of what the puzzle shows"),
    Column("answer", Integer, nullable=False, comment="the right option; never sent to the client"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("outcome", String(8), nullable=True, comment="right | wrong | replaced"),
    Column("token_hash", String(64), nullable=True, unique=True, comment="SHA-256 of a provider token"),
)
Index("ix_captcha_challenges_user_id", challenges.c.user_id, challenges.c.id)
# The user's open challenges, found at every new one without walking their whole history.
Index(
    "ix_captcha_challenges_open",
    challenges.c.user_id,
    sqlite_where=challenges.c.answered_at.is_(None),
    postgresql_where=challenges.c.answered_at.is_(None),
)

# core.identity.twofa
twofa = Table(
    "twofa",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("secret", String(200), nullable=False, comment="SecretBox token, aad totp:<user_id>"),
    Column("enabled", Boolean, nullable=False),
    Column("last_step", BigInteger, nullable=True, comment="last accepted TOTP time step"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("enabled_at", UTCDateTime, nullable=True),
    Column(
        "failures", Integer, nullable=False, server_default="0", comment="wrong codes since failures_since"
    ),
    Column(
        "failures_since", UTCDateTime, nullable=True, comment="the first counted wrong code of the window"
    ),
)
twofa_backup_codes = Table(
    "twofa_backup_codes",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("used_at", UTCDateTime, nullable=True),
)
Index("ix_twofa_backup_codes_user", twofa_backup_codes.c.user_id)
