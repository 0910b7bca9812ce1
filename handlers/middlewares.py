"""Outer middlewares, in the order they run for every update:

AnswerEveryTap (handlers.common.taps: every tap answered once, outside aiogram's error router) ->
InFlight (so shutdown can wait for it) -> People (only people get through) -> Members
(the user, registered and cached) -> Locale (handlers.common.i18n) -> Throttle (a flood gets one
polite notice, then silence).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from core.identity import users
from core.identity.users import DEFAULT_LANGUAGE, User, supported_language
from core.platform.db import Database
from core.platform.params import Params, define
from handlers.common.i18n import _, get_i18n

log = logging.getLogger(__name__)
Next = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]  # what a middleware hands the update on to

# A flood is taps arriving faster than we answer them, or far more than a person sends.
define("throttle.in_flight", "4", "int", minimum=1, maximum=1000)
define("throttle.limit", "60", "int", minimum=1, maximum=100_000)
define("throttle.window", "10s", "duration", minimum=1, maximum=3600)


class InFlight(BaseMiddleware):
    """Counts updates being handled; ``wait_idle`` lets a stopping bot finish them."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
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


class People(BaseMiddleware):
    """Only a person's messages and taps reach the handlers, which all act for ``user``.

    A message sent on behalf of a chat (an anonymous group admin, a channel, a linked
    channel's forwarded post: ``sender_chat``), by a bot, or with no sender at all is
    answered here once, in a private chat, and ignored in a group, where a reply would
    only be noise. Such senders are never registered as users.
    """

    async def __call__(self, handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):  # installed on updates: never happens
            return await handler(event, data)
        message = event.message or event.edited_message
        if message is not None:
            sender = message.from_user
            if message.sender_chat is None and sender is not None and not sender.is_bot:
                return await handler(event, data)
            if message.chat.type == "private":
                await self._tell(message, sender.language_code if sender else None)
            return None
        query = event.callback_query
        if query is not None and query.from_user.is_bot:
            await self._tell(query, query.from_user.language_code)
            return None
        return await handler(event, data)

    @staticmethod
    async def _tell(event: Message | CallbackQuery, language: str | None) -> None:
        i18n = get_i18n()
        with i18n.context(), i18n.use_locale(supported_language(language) or DEFAULT_LANGUAGE):
            text = _(
                "I only talk with people. Please write to me from your own Telegram account, "
                "not as a channel, a group or a bot."
            )
        try:
            if isinstance(event, CallbackQuery):
                await event.answer(text, show_alert=True)
            else:
                await event.answer(text)
        except Exception:  # nobody to tell is not worth an error
            log.info("could not answer a sender that is not a person", exc_info=True)


class Members(BaseMiddleware):
    """Registers whoever writes, and hands handlers ``user`` (core.identity.users.User).

    A user's row is written when Telegram reports new names or language, and at
    most every ``refresh`` seconds otherwise, so ordinary updates cost no write.
    """

    def __init__(self, db: Database, params: Params, refresh: float = 60.0) -> None:  # float ok: seconds
        self.db, self.params, self.refresh = db, params, refresh
        self._cache: dict[int, tuple[float, tuple, User]] = {}  # float ok: monotonic time

    def remember(self, user: User) -> None:
        hit = self._cache.get(user.id)
        if hit:
            self._cache[user.id] = (hit[0], hit[1], user)

    async def __call__(self, handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
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
    """Keeps one user's flood of taps from piling up. An update is dropped when the user
    already has ``in_flight`` updates being handled (taps arriving faster than we answer),
    or has sent more than ``limit`` in ``window`` seconds. The first dropped message of a
    burst (until the user's updates in flight are all answered) gets a polite notice, and so
    does the first dropped tap (as its answer); the first update over the rate limit of a
    window too. The rest get silence, and a dropped tap still gets its (empty) answer from
    handlers.common.taps, so no button keeps spinning.

    A script or a person who waits for each answer is never stopped by the first rule.
    Rate counts live in memory, or in Redis (shared by every instance) when given.
    """

    def __init__(
        self,
        limit: int | None = None,
        window: int | None = None,
        redis=None,
        params: Params | None = None,
        in_flight: int | None = None,
    ) -> None:
        # Fixed numbers (tests, benches) or the runtime settings throttle.*.
        self._limit, self._window, self._in_flight = limit, window, in_flight
        self.redis, self.params = redis, params
        self._counts: dict[int, tuple[int, int]] = {}
        self._busy: dict[int, int] = {}
        self._noticed: dict[int, int] = {}
        self._burst_noticed: set[tuple[int, bool]] = set()  # (user, is a tap) told in this burst

    def _setting(self, fixed, key: str, fallback: int) -> int:
        if fixed is not None:
            return fixed
        return self.params.get(key) if self.params is not None else fallback

    @property
    def limit(self) -> int:
        return self._setting(self._limit, "throttle.limit", 60)

    @property
    def window(self) -> int:
        return self._setting(self._window, "throttle.window", 10)

    @property
    def in_flight(self) -> int:
        if self._in_flight is None and self._limit is not None:
            return self._limit  # tests that fix a rate limit mean only that one
        return self._setting(self._in_flight, "throttle.in_flight", 4)

    def _slot(self) -> int:
        return int((time.monotonic() if self.redis is None else time.time()) // self.window)

    async def _hit(self, user_id: int, slot: int) -> int:
        if self.redis is not None:
            key = f"dustpan:throttle:{user_id}:{slot}"
            async with self.redis.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(key).expire(key, self.window * 2).execute()
            return int(count)
        prev_slot, count = self._counts.get(user_id, (slot, 0))
        count = count + 1 if prev_slot == slot else 1
        if len(self._counts) > 50_000:
            self._counts = {u: v for u, v in self._counts.items() if v[0] == slot}
            self._noticed = {u: v for u, v in self._noticed.items() if v == slot}
        self._counts[user_id] = (slot, count)
        return count

    async def __call__(self, handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = data.get("event_from_user")
        if user is None or not isinstance(event, Update):
            return await handler(event, data)
        slot = self._slot()
        busy = self._busy.get(user.id, 0)
        if busy >= self.in_flight:
            burst = (user.id, event.callback_query is not None)
            if burst not in self._burst_noticed:
                self._burst_noticed.add(burst)
                await self._notify(event, data["bot"])
            return None
        count = await self._hit(user.id, slot)
        if count > self.limit:
            # Exactly one update sees limit + 1, on whichever instance: that one says so.
            if count == self.limit + 1 and self._noticed.get(user.id) != slot:
                self._noticed[user.id] = slot
                await self._notify(event, data["bot"])
            return None
        self._busy[user.id] = busy + 1
        try:
            return await handler(event, data)
        finally:
            left = self._busy[user.id] - 1
            if left:
                self._busy[user.id] = left
            else:
                del self._busy[user.id]
                self._burst_noticed.discard((user.id, True))
                self._burst_noticed.discard((user.id, False))

    async def _notify(self, event: Update, bot: Bot) -> None:
        text = _("Easy there! Too many taps at once. Wait a couple of seconds and try again.")
        try:
            if event.callback_query is not None:
                await bot.answer_callback_query(event.callback_query.id, text)
            elif event.message is not None:
                await bot.send_message(event.message.chat.id, text)
        except Exception:  # a notice that cannot be delivered is not worth an error
            log.info("throttle notice not delivered", exc_info=True)
