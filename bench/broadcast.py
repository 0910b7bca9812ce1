"""Broadcast: the bot's own CPU per message sent, against a bare aiogram send.

    python -m bench.broadcast [N]

The fake answers instantly and in process (no HTTP), and the rate limit is lifted, so what is
left is our cost: claiming each recipient in the database before the send, recording its outcome,
building the request. The reference, measured in the same run, is a bare ``bot.send_message`` loop
to the same fake. CPU is process time (the database thread included). SQLite, and PostgreSQL when
BENCH_PG_URL (or the default bench database) is reachable.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.types import Chat, Message
from sqlalchemy import insert

from bench.common import fresh_pg, fresh_sqlite
from core.ops import broadcasts as bc
from core.platform.budget import SendBudget
from core.platform.db import Database
from core.platform.params import Params
from core.platform.schema import users, utcnow
from jobs.broadcast import BroadcastSender

TOKEN = "123456:BENCH"


class InstantSession(BaseSession):
    """Answers every send at once with a message, like Telegram on a very good day."""

    async def make_request(self, bot: Bot, method: Any, timeout: int | None = None) -> Any:
        return Message(
            message_id=1,
            date=datetime.now(UTC),
            chat=Chat(id=getattr(method, "chat_id", 1), type="private"),
            text="x",
        )

    async def stream_content(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def close(self) -> None:
        pass


def _seed(conn: Any, n: int) -> None:
    now = utcnow()
    conn.execute(
        insert(users), [dict(id=i, first_name="u", created_at=now, seen_at=now) for i in range(1, n + 1)]
    )


async def measure(url: str, n: int, label: str) -> None:
    db = Database(url)
    await db.start()
    await db.write(_seed, n)
    bot = Bot(TOKEN, session=InstantSession())
    text = "<b>News</b> for everyone, with a <a href='https://example.com'>link</a>"

    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(1, n + 1):
        await bot.send_message(i, text, parse_mode="HTML")
    bare_cpu, bare_wall = time.process_time() - cpu, time.perf_counter() - wall

    bid = await db.write(bc.create_draft, 1, text)
    await db.write(bc.start, bid, bc.Segment.parse("everyone"), admin_id=1)
    sender = BroadcastSender(db, bot, Params(env={}), SendBudget(10**9))
    cpu, wall = time.process_time(), time.perf_counter()
    sent = await sender.run_once()
    ours_cpu, ours_wall = time.process_time() - cpu, time.perf_counter() - wall
    assert sent == n, sent
    await db.close()
    print(
        f"{label}: broadcast {ours_cpu / n * 1e6:.0f} µs CPU/message ({n / ours_wall:.0f} msg/s wall); "
        f"bare aiogram send {bare_cpu / n * 1e6:.0f} µs CPU/message ({n / bare_wall:.0f} msg/s); "
        f"ratio {ours_cpu / bare_cpu:.1f}×"
    )


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await measure(await fresh_sqlite(tmp), n, "SQLite")
    if url := await fresh_pg():
        await measure(url, n, "PostgreSQL")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
