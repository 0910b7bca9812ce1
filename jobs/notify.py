"""Deliver queued notices within Telegram's limits.

About 30 messages a second overall (``notify.rate``), at most one message a second
per chat (several notices for one chat are joined into one message), honouring
429 ``retry_after``. A user who blocked the bot is marked and skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter

from core import notices
from core.db import Database
from core.errors import UnknownUser
from core.params import Params
from core.users import DEFAULT_LANGUAGE, get_user
from handlers.i18n import get_i18n
from handlers.notices import render

log = logging.getLogger(__name__)
MAX_TEXT = 4000


class NoticeSender:
    def __init__(
        self, db: Database, bot: Bot, params: Params, *, clock=time.monotonic, sleep=asyncio.sleep
    ) -> None:
        self.db, self.bot, self.params = db, bot, params
        self.clock, self.sleep = clock, sleep
        self._locales: dict[int, str] = {}

    async def _locale(self, chat_id: int) -> str:
        if chat_id not in self._locales:
            try:
                self._locales[chat_id] = (await self.db.read(get_user, chat_id)).locale
            except UnknownUser:
                self._locales[chat_id] = DEFAULT_LANGUAGE
        return self._locales[chat_id]

    async def run_once(self) -> int:
        """Send one round of due notices; returns how many messages went out."""
        await self.params.refresh(self.db)
        due = await self.db.write(notices.claim_due, self.params.get("notify.batch"))
        by_chat: dict[int, list[notices.Notice]] = defaultdict(list)
        for n in due:
            by_chat[n.chat_id].append(n)
        interval = 1 / self.params.get("notify.rate")  # float ok: seconds between messages
        i18n = get_i18n()
        sent = 0
        for chat_id, items in by_chat.items():
            started = self.clock()
            with i18n.context(), i18n.use_locale(await self._locale(chat_id)):
                text = "\n\n".join(render(n.template, n.params) for n in items)[:MAX_TEXT]
            ids = [n.id for n in items]
            try:
                await self.bot.send_message(chat_id, text)
            except TelegramRetryAfter as err:
                # Telegram asks us to wait: put these (and everything after) back, then wait.
                rest = [n.id for c, its in by_chat.items() for n in its if c >= chat_id]
                await self.db.write(notices.retry_later, rest, err.retry_after)
                log.warning("notices: Telegram asked to wait %ss", err.retry_after)
                await self.sleep(err.retry_after)
                return sent
            except TelegramForbiddenError:
                await self.db.write(notices.mark_done, ids, "blocked")
                continue
            except TelegramBadRequest:
                log.warning("notices: Telegram refused a notice for chat %s", chat_id, exc_info=True)
                await self.db.write(notices.mark_done, ids, "failed")
                continue
            except Exception:
                log.warning("notices: sending to chat %s failed; will retry", chat_id, exc_info=True)
                await self.db.write(notices.retry_later, ids, 30)
                continue
            await self.db.write(notices.mark_done, ids)
            sent += 1
            spent = self.clock() - started
            if spent < interval:
                await self.sleep(interval - spent)
        return sent
