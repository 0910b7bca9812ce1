"""Tables of money between people: sends (quoted, then confirmed), tips held for people who
have not started the bot, checks and their claims."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, UniqueConstraint, false

from core.platform.schema import UTCDateTime, id_column, metadata

# /send: a quote the sender confirms (state draft -> sent | cancelled).
social_sends = Table(
    "social_sends",
    metadata,
    id_column(),
    Column("sender_id", BigInteger, nullable=False),
    Column("recipient_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False, comment="minor units"),
    Column("state", String(12), nullable=False, comment="draft | sent | cancelled"),
    Column("transfer_id", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_social_sends_sender", social_sends.c.sender_id, social_sends.c.id)

# /tip in a group. Paid at once to someone who started the bot; otherwise held (a pending
# transfer from the sender to the recipient) until claimed through the link, or returned.
social_tips = Table(
    "social_tips",
    metadata,
    id_column(),
    Column("code", String(24), nullable=False, unique=True, comment="claim link payload t<code>"),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False, comment="the /tip message"),
    Column("sender_id", BigInteger, nullable=False),
    Column("recipient_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False, comment="minor units"),
    Column("state", String(12), nullable=False, comment="paid | held | claimed | returned"),
    Column("pending_id", BigInteger, nullable=True, comment="the held transfer"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("chat_id", "message_id", name="uq_social_tips_message"),
)
Index("ix_social_tips_state", social_tips.c.state, social_tips.c.created_at)

# /check: ``activations`` payments of ``amount`` each, funded up front into the check's
# escrow sub-account (check_escrow:<id>), which always holds (activations - used) * amount
# while the check is open.
social_checks = Table(
    "social_checks",
    metadata,
    id_column(),
    Column("code", String(24), nullable=False, unique=True, comment="deep link payload c<code>"),
    Column("creator_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False, comment="per activation, minor units"),
    Column("activations", Integer, nullable=False),
    Column("used", Integer, nullable=False, server_default="0"),
    Column("state", String(12), nullable=False, comment="open | revoked | expired"),
    Column("password", String(64), nullable=True, comment="salted hash of the password; null: none"),
    Column("new_users_only", Boolean, nullable=False, server_default=false()),
    Column("channel", String(64), nullable=True, comment="@channel whose members only may claim"),
    Column("expires_at", UTCDateTime, nullable=True),
    Column(
        "inline_message_id", String(128), nullable=True, unique=True, comment="made from an inline result"
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
)
Index("ix_social_checks_creator", social_checks.c.creator_id, social_checks.c.id)
Index("ix_social_checks_open", social_checks.c.state, social_checks.c.expires_at)

social_claims = Table(
    "social_claims",
    metadata,
    Column("check_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("claimed_at", UTCDateTime, nullable=False),
)

# Wrong check passwords per (check, user): at most check.password_tries per window.
social_check_tries = Table(
    "social_check_tries",
    metadata,
    Column("check_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("failures", Integer, nullable=False),
    Column("since", UTCDateTime, nullable=False),
)
