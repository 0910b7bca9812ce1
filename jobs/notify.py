"""Deliver queued notices within Telegram's limits.

About 30 messages a second overall (``notify.rate``), at most one message a second
per chat (several notices for one chat are joined into one message), honouring
429 ``retry_after``. A user who blocked the bot is marked and skipped.
Notices are taken by priority, then age (core.platform.notices): withdrawal news goes out
before any number of low-priority faucet-site notices.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from sqlalchemy import Connection

import jobs
from core import ops
from core.errors import UnknownUser
from core.identity.users import DEFAULT_LANGUAGE, get_user
from core.platform import notices
from core.platform.budget import SendBudget
from core.platform.db import Database
from core.platform.params import Params

log = logging.getLogger(__name__)
MAX_TEXT = 4000
LOCALE_TTL = 60  # seconds a chat's language is remembered: a change reaches its notices soon


def _blocked(conn: Connection, ids: list[int], chat_id: int) -> None:
    notices.mark_done(conn, ids, "blocked")
    ops.mark_blocked(conn, chat_id)  # counted apart in /admin, left out of broadcasts


class NoticeSender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        params: Params,
        *,
        clock=time.monotonic,
        sleep=asyncio.sleep,
        render: Callable[[str, str, Mapping[str, Any]], str] | None = None,
        budget: SendBudget | None = None,
    ) -> None:
        """``render(locale, template, params)`` is a notice's text (by default jobs.TEXTS.notice);
        ``budget`` is the bot's one send budget, shared with broadcasts."""
        self.db, self.bot, self.params, self.budget = db, bot, params, budget
        self.render = render or jobs.texts().notice
        self.clock, self.sleep = clock, sleep
        self._locales: dict[int, tuple[str, float]] = {}  # chat -> (locale, when read); float ok: clock

    async def _locale(self, chat_id: int) -> str:
        now = self.clock()
        cached = self._locales.get(chat_id)
        if cached is not None and now - cached[1] < LOCALE_TTL:
            return cached[0]
        try:
            locale = (await self.db.read(get_user, chat_id)).locale
        except UnknownUser:
            locale = DEFAULT_LANGUAGE
        if len(self._locales) > 10_000:  # forget stale chats rather than grow forever
            self._locales = {c: v for c, v in self._locales.items() if now - v[1] < LOCALE_TTL}
        self._locales[chat_id] = (locale, now)
        return locale

    async def run_once(self) -> int:
        """Send one round of due notices; returns how many messages went out (or were edited)."""
        await self.params.refresh(self.db)
        due = await self.db.write(notices.claim_due, self.params.get("notify.batch"))
        by_chat: dict[int, list[notices.Notice]] = defaultdict(list)
        for n in due:
            by_chat[n.chat_id].append(n)
        interval = 1 / self.params.get("notify.rate")  # float ok: seconds between messages
        # One delivery per chat for the plain notices (joined), one per thread (its latest state).
        deliveries: list[tuple[int, list[notices.Notice], str | None]] = []
        for chat_id, items in by_chat.items():
            plain = [n for n in items if n.thread is None]
            if plain:
                deliveries.append((chat_id, plain, None))
            threads: dict[str, list[notices.Notice]] = defaultdict(list)
            for n in items:
                if n.thread is not None:
                    threads[n.thread].append(n)
            deliveries += [(chat_id, ns, thread) for thread, ns in threads.items()]
        sent = 0
        for position, (chat_id, items, thread) in enumerate(deliveries):
            started = self.clock()
            locale = await self._locale(chat_id)
            shown = items if thread is None else items[-1:]  # a thread shows its latest state
            text = "\n\n".join(self.render(locale, n.template, n.params) for n in shown)[:MAX_TEXT]
            ids = [n.id for n in items]
            if self.budget is not None:
                await self.budget.acquire(chat_id)  # the bot's one budget, shared with broadcasts
            try:
                message_id = await self._deliver(chat_id, text, thread)
            except TelegramRetryAfter as err:
                if self.budget is not None:
                    await self.budget.hold(err.retry_after)
                # Telegram asks us to wait: put these (and every delivery after them) back, then wait.
                rest = [n.id for _c, its, _t in deliveries[position:] for n in its]
                await self.db.write(notices.retry_later, rest, err.retry_after)
                log.warning("notices: Telegram asked to wait %ss", err.retry_after)
                await self.sleep(err.retry_after)
                return sent
            except TelegramForbiddenError:
                await self.db.write(_blocked, ids, chat_id)
                continue
            except TelegramBadRequest:
                log.warning("notices: Telegram refused a notice for chat %s", chat_id, exc_info=True)
                await self.db.write(notices.mark_done, ids, "failed")
                continue
            except Exception:
                log.warning("notices: sending to chat %s failed; will retry", chat_id, exc_info=True)
                await self.db.write(notices.retry_later, ids, 30)
                continue
            await self.db.write(notices.mark_sent_as, ids, message_id)
            sent += 1
            spent = self.clock() - started
            if spent < interval:
                await self.sleep(interval - spent)
        return sent

    async def _deliver(self, chat_id: int, text: str, thread: str | None) -> int:
        """Send ``text``, or for a thread edit the message its earlier notices were sent as
        (a new message when Telegram will not edit that one); returns the message id."""
        if thread is not None:
            earlier = await self.db.read(notices.thread_message, chat_id, thread)
            if earlier is not None:
                try:
                    await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=earlier)
                    return earlier
                except TelegramBadRequest as err:
                    if "not modified" in str(err):
                        return earlier
                    log.info(
                        "notices: could not edit message %s in chat %s (%s); sending anew",
                        earlier,
                        chat_id,
                        err,
                    )
        return (await self.bot.send_message(chat_id, text)).message_id
