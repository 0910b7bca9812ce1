"""Tables of operations: stored broadcasts and their materialised recipients."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, SmallInteger, String, Table, Text

from core.platform import UTCDateTime, id_column, metadata

broadcasts = Table(
    "broadcasts",
    metadata,
    id_column(),
    Column("admin_id", BigInteger, nullable=False),
    Column("text", Text, nullable=False, comment="Telegram HTML, as previewed"),
    Column("photo", String(256), nullable=True, comment="file_id of an optional photo"),
    Column("button_text", String(64), nullable=True),
    Column("button_url", String(512), nullable=True),
    Column("segment", String(32), nullable=True, comment="everyone | lang:xx | active:N | coin:XXX"),
    Column("state", String(12), nullable=False, comment="draft | running | paused | cancelled | done"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("progress_chat", BigInteger, nullable=True),
    Column("progress_message", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
)

broadcast_recipients = Table(
    "broadcast_recipients",
    metadata,
    Column("broadcast_id", BigInteger, ForeignKey("broadcasts.id"), primary_key=True),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column(
        "state",
        SmallInteger,
        nullable=False,
        server_default="0",
        comment="PENDING 0, SENDING 1, SENT 2, BLOCKED 3, FAILED 4",
    ),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
)
Index(
    "ix_broadcast_recipients_state",
    broadcast_recipients.c.broadcast_id,
    broadcast_recipients.c.state,
    broadcast_recipients.c.user_id,
)
