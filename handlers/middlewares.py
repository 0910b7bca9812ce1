"""Outer middlewares, in the order they run for every update:

InFlight (so shutdown can wait for it) -> Members (the user, registered and cached)
-> Locale (handlers.i18n) -> Throttle (a flood gets one polite notice, then silence).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import Update

from core import users
from core.db import Database
from core.params import Params, define
from core.users import User
from handlers.i18n import _

log = logging.getLogger(__name__)

# Generous enough for quick thumbs and scripted clients; a real flood still gets noticed.
define("throttle.limit", "30", "int", minimum=1, maximum=100_000)
define("throttle.window", "10s", "duration", minimum=1, maximum=3600)


class InFlight(BaseMiddleware):
    """Counts updates being handled; ``wait_idle`` lets a stopping bot finish them."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, handler, event, data):
        self.count += 1
        self._idle.clear()
        try:
            return await handler(event, data)
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:  # float ok: seconds
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False


class Members(BaseMiddleware):
    """Registers whoever writes, and hands handlers ``user`` (core.users.User).

    A user's row is written when Telegram reports new names or language, and at
    most every ``refresh`` seconds otherwise, so ordinary updates cost no write.
    """

    def __init__(self, db: Database, params: Params, refresh: float = 60.0) -> None:  # float ok: seconds
        self.db, self.params, self.refresh = db, params, refresh
        self._cache: dict[int, tuple[float, tuple, User]] = {}  # float ok: monotonic time

    def forget(self, user_id: int) -> None:
        self._cache.pop(user_id, None)

    def remember(self, user: User) -> None:
        hit = self._cache.get(user.id)
        if hit:
            self._cache[user.id] = (hit[0], hit[1], user)

    async def __call__(self, handler, event, data: dict[str, Any]):
        await self.params.refresh(self.db)
        tg = data.get("event_from_user")
        if tg is None or tg.is_bot:
            return await handler(event, data)
        seen = (tg.username, tg.first_name, tg.language_code)
        now = time.monotonic()
        hit = self._cache.get(tg.id)
        if hit is None or hit[1] != seen or now - hit[0] > self.refresh:
            user = await self.db.write(
                users.upsert_user,
                id=tg.id,
                username=tg.username,
                first_name=tg.first_name,
                language_code=tg.language_code,
            )
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[tg.id] = (now, seen, user)
        else:
            user = hit[2]
        data["user"] = user
        data["members"] = self
        return await handler(event, data)


class Throttle(BaseMiddleware):
    """At most ``limit`` updates per user per ``window`` seconds; the first one over gets a notice.

    Counts live in memory, or in Redis (shared by every instance) when given.
    """

    def __init__(
        self, limit: int | None = None, window: int | None = None, redis=None, params: Params | None = None
    ) -> None:
        # Fixed numbers (tests, benches) or the runtime settings throttle.limit / throttle.window.
        self._limit, self._window, self.redis, self.params = limit, window, redis, params
        self._counts: dict[int, tuple[int, int]] = {}

    @property
    def limit(self) -> int:
        return self._limit if self._limit is not None else self.params.get("throttle.limit")

    @property
    def window(self) -> int:
        if self._window is not None or self.params is None:
            return self._window or 10
        return self.params.get("throttle.window")

    async def _hit(self, user_id: int) -> int:
        slot = int(time.monotonic() // self.window) if self.redis is None else int(time.time() // self.window)
        if self.redis is not None:
            key = f"dustpan:throttle:{user_id}:{slot}"
            async with self.redis.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(key).expire(key, self.window * 2).execute()
            return int(count)
        prev_slot, count = self._counts.get(user_id, (slot, 0))
        count = count + 1 if prev_slot == slot else 1
        if len(self._counts) > 50_000:
            self._counts = {u: v for u, v in self._counts.items() if v[0] == slot}
        self._counts[user_id] = (slot, count)
        return count

    async def __call__(self, handler, event: Update, data: dict[str, Any]):
        user = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        count = await self._hit(user.id)
        if count <= self.limit:
            return await handler(event, data)
        if count == self.limit + 1:
            await self._notify(event, data["bot"])
        return None

    async def _notify(self, event: Update, bot: Bot) -> None:
        text = _("Easy there! Too many taps at once. Wait a couple of seconds and try again.")
        try:
            if event.callback_query is not None:
                await bot.answer_callback_query(event.callback_query.id, text)
            elif event.message is not None:
                await bot.send_message(event.message.chat.id, text)
        except Exception:  # a notice that cannot be delivered is not worth an error
            log.info("throttle notice not delivered", exc_info=True)
