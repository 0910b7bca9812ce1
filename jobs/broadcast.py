"""Send running broadcasts (core.ops.broadcasts) within the bot's shared send budget.

One recipient at a time: claimed in the database before the send, its outcome recorded with the
next claim (one write per message). A 429 holds the whole budget for ``retry_after`` (notices wait
too) and puts the recipient back; 403 marks the user blocked; a bad request (the chat is gone) is a
failure; server and network errors are retried up to core's MAX_ATTEMPTS. Progress is shown by
``show_progress`` (injected by bot.py: jobs never import handlers) every ``PROGRESS_EVERY`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from core.ops import broadcasts as bc
from core.platform.budget import SendBudget
from core.platform.db import Database
from core.platform.params import Params

log = logging.getLogger(__name__)
WORKERS = 8
PROGRESS_EVERY = 3.0  # float ok: seconds between edits of the admin's progress message
ShowProgress = Callable[[Bot, bc.Broadcast, bc.Progress, float | None], Awaitable[None]]


async def send_broadcast(bot: Bot, chat_id: int, b: bc.Broadcast) -> None:
    """Send ``b`` to one chat exactly as users see it (the preview uses this too)."""
    markup = (
        InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=b.button_text, url=b.button_url)]])
        if b.button_text and b.button_url
        else None
    )
    if b.photo:
        await bot.send_photo(chat_id, b.photo, caption=b.text or None, parse_mode="HTML", reply_markup=markup)
    else:
        await bot.send_message(
            chat_id, b.text, parse_mode="HTML", reply_markup=markup, disable_web_page_preview=False
        )


class BroadcastSender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        params: Params,
        budget: SendBudget,
        *,
        show_progress: ShowProgress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.bot, self.params, self.budget = db, bot, params, budget
        self.show_progress, self.clock = show_progress, clock

    async def run_once(self) -> int:
        """Send every running broadcast until it is done, paused or cancelled; returns messages sent."""
        sent = 0
        for b in await self.db.read(bc.runnable):
            sent += await self.run_broadcast(b)
        return sent

    async def run_broadcast(self, b: bc.Broadcast) -> int:
        """``WORKERS`` senders share the budget: Telegram answers in 50-200 ms, so one sender alone
        could not reach 25 a second. Each claims before it sends, so a kill leaves at most
        ``WORKERS`` recipients in doubt, and none of them is sent to again."""
        if doubt := await self.db.write(bc.settle_in_doubt, b.id):
            log.warning("broadcast %s: %s recipients in doubt after a restart; not sent again", b.id, doubt)
        started, at_start = self.clock(), await self.db.read(bc.progress, b.id)
        counts = [0]

        async def worker() -> None:
            outcome: tuple[int, int] | None = None
            while (user_id := await self.db.write(bc.claim_next, b.id, outcome)) is not None:
                await self.budget.acquire(user_id)
                outcome = (user_id, await self._send_one(user_id, b))
                counts[0] += outcome[1] == bc.SENT

        async def reporter() -> None:
            while True:
                await asyncio.sleep(PROGRESS_EVERY)
                await self._show(b, started, at_start)

        shows = asyncio.create_task(reporter()) if self.show_progress else None
        try:
            await asyncio.gather(*(worker() for _ in range(WORKERS)))
        finally:
            if shows is not None:
                shows.cancel()
        if self.show_progress:
            await self._show(b, started, at_start)
        return counts[0]

    async def _send_one(self, user_id: int, b: bc.Broadcast) -> int:
        try:
            await send_broadcast(self.bot, user_id, b)
        except TelegramRetryAfter as err:
            log.warning("broadcast %s: Telegram asked to wait %ss", b.id, err.retry_after)
            await self.budget.hold(err.retry_after)
            return bc.PENDING
        except TelegramForbiddenError:
            return bc.BLOCKED
        except TelegramBadRequest as err:
            log.info("broadcast %s: chat %s refused: %s", b.id, user_id, err.message)
            return bc.FAILED
        except TelegramNetworkError:
            # It may have arrived: never sent twice, so this one counts as failed.
            log.warning("broadcast %s: network error for chat %s", b.id, user_id, exc_info=True)
            return bc.FAILED
        except Exception:
            log.warning("broadcast %s: sending to chat %s failed; will retry", b.id, user_id, exc_info=True)
            return bc.PENDING
        return bc.SENT

    async def _show(self, b: bc.Broadcast, started: float, at_start: bc.Progress) -> None:
        assert self.show_progress is not None
        p = await self.db.read(bc.progress, b.id)
        done_here = (p.total - p.left) - (at_start.total - at_start.left)
        elapsed = self.clock() - started
        eta = p.left * elapsed / done_here if done_here > 0 and p.left else None
        await self.budget.acquire(reply=True)  # an edit counts too; the admin's view may use the headroom
        try:
            await self.show_progress(self.bot, await self.db.read(bc.get_broadcast, b.id), p, eta)
        except Exception:
            log.warning("broadcast %s: progress message not updated", b.id, exc_info=True)
