"""The outbox: notices to users, written in the same transaction as the fact they report.

A feature enqueues ``(chat_id, template, params)``; the sender job (jobs/notify.py)
renders and delivers them within Telegram's limits and marks them sent. Because
they live in the database, a restart loses none; a notice may be sent twice only
if the process dies between sending and marking (at-least-once). ``key`` makes
enqueueing idempotent (e.g. ``withdrawal:12:sent``).

``priority``: due notices go out in order of priority, then age. Money the user is
waiting for (withdrawals) is ``NORMAL``; news nobody waits for, such as the daily
summary of faucet-site payments, is ``LOW``, so a flood of it never delays the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    select,
    update,
)

from core.platform.engines import per_engine
from core.platform.params import define
from core.platform.schema import notices, utcnow

HIGH, NORMAL, LOW = 0, 1, 2

define("notify.rate", "25", "int", minimum=1, maximum=30)  # messages per second, all chats together
define("notify.batch", "200", "int", minimum=1, maximum=5000)


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    chat_id: int
    template: str
    params: dict[str, Any]
    attempts: int
    thread: str | None = None  # notices of one thread edit one message (a withdrawal's states)


def _insert(insert: Callable[[Table], Any]) -> Any:
    return insert(notices).on_conflict_do_nothing(index_elements=[notices.c.key])


def _insert_latest(insert: Callable[[Table], Any]) -> Any:
    ins = insert(notices)
    return ins.on_conflict_do_update(
        index_elements=[notices.c.key],
        set_={"params": ins.excluded.params},
        where=notices.c.sent_at.is_(None),
    )


_INSERT = per_engine(_insert)
_INSERT_LATEST = per_engine(_insert_latest)
_DUE = (
    select(
        notices.c.id,
        notices.c.chat_id,
        notices.c.template,
        notices.c.params,
        notices.c.attempts,
        notices.c.thread,
    )
    .where(notices.c.sent_at.is_(None), notices.c.due_at <= bindparam("now"))
    .order_by(notices.c.priority, notices.c.id)
    .limit(bindparam("n"))
)


def enqueue(
    conn: Connection,
    chat_id: int,
    template: str,
    params: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    now: datetime | None = None,
    delay_seconds: int = 0,
    latest: bool = False,
    priority: int = NORMAL,
) -> None:
    """Queue a notice in the caller's transaction. With ``key``, a second enqueue is a no-op,
    or, with ``latest``, gives the still unsent notice its params (a batch tells the latest)."""
    enqueue_many(
        conn,
        [(chat_id, template, params, key)],
        now=now,
        delay_seconds=delay_seconds,
        latest=latest,
        priority=priority,
    )


def enqueue_many(
    conn: Connection,
    items: list[tuple[int, str, dict[str, Any] | None, str | None]],
    *,
    now: datetime | None = None,
    delay_seconds: int = 0,
    latest: bool = False,
    priority: int = NORMAL,
    threads: list[str | None] | None = None,
) -> None:
    """``enqueue`` for many (chat_id, template, params, key) in one multi-row insert.
    ``threads`` (one per item): the notices of one thread are sent as one message, edited by
    each later notice of the thread (jobs/notify.py), e.g. ``withdrawal:{id}``."""
    if not items:
        return
    now = now or utcnow()
    due = now + timedelta(seconds=delay_seconds)
    rows = [
        dict(
            chat_id=chat_id,
            template=template,
            params=json.dumps(params or {}, sort_keys=True, default=str),
            key=key,
            created_at=now,
            due_at=due,
            priority=priority,
            thread=threads[i] if threads else None,
        )
        for i, (chat_id, template, params, key) in enumerate(items)
    ]
    conn.execute((_INSERT_LATEST if latest else _INSERT).of(conn), rows)


def claim_due(
    conn: Connection, limit: int, *, lease_seconds: int = 60, now: datetime | None = None
) -> list[Notice]:
    """Take up to ``limit`` due notices, by priority then oldest first, hiding them for ``lease_seconds`` while they are sent."""
    now = now or utcnow()
    rows = conn.execute(_DUE, {"now": now, "n": limit}).all()
    if rows:
        conn.execute(
            update(notices)
            .where(notices.c.id.in_([r.id for r in rows]))
            .values(due_at=now + timedelta(seconds=lease_seconds), attempts=notices.c.attempts + 1)
        )
    return [Notice(r.id, r.chat_id, r.template, json.loads(r.params), r.attempts + 1, r.thread) for r in rows]


_THREAD_MESSAGE = (
    select(notices.c.message_id)
    .where(
        notices.c.thread == bindparam("t"),
        notices.c.chat_id == bindparam("c"),
        notices.c.message_id.is_not(None),
    )
    .order_by(notices.c.id.desc())
    .limit(1)
)


def thread_message(conn: Connection, chat_id: int, thread: str) -> int | None:
    """The message a thread's notices were last sent as in ``chat_id`` (None: none yet)."""
    return conn.execute(_THREAD_MESSAGE, {"t": thread, "c": chat_id}).scalar()


def mark_sent_as(conn: Connection, ids: list[int], message_id: int, now: datetime | None = None) -> None:
    """Mark notices sent, as (or into) ``message_id``: their thread's later notices edit it."""
    if ids:
        conn.execute(
            update(notices)
            .where(notices.c.id.in_(ids))
            .values(sent_at=now or utcnow(), outcome="sent", message_id=message_id)
        )


def mark_done(conn: Connection, ids: list[int], outcome: str = "sent", now: datetime | None = None) -> None:
    if ids:
        conn.execute(
            update(notices).where(notices.c.id.in_(ids)).values(sent_at=now or utcnow(), outcome=outcome)
        )


def retry_later(conn: Connection, ids: list[int], seconds: int, now: datetime | None = None) -> None:
    if ids:
        conn.execute(
            update(notices)
            .where(notices.c.id.in_(ids))
            .values(due_at=(now or utcnow()) + timedelta(seconds=seconds))
        )


def pending_count(conn: Connection) -> int:
    from sqlalchemy import func

    return conn.execute(
        select(func.count()).select_from(notices).where(notices.c.sent_at.is_(None))
    ).scalar_one()
