"""Every message the bot sends draws from its one send budget (core.platform.budget).

``DrawFromBudget`` is a middleware of the bot's session, so it sees every call: the replies
handlers make, the crash views' edits, anything a job sends. A call that puts a message in a chat
(``send*`` but chat actions, ``edit*``, copies and forwards) waits for the budget first:

* in the reply lane, unless the task is in the bulk lane (``core.platform.budget.bulk_lane``:
  the crash runner's edits), so a running broadcast never starves the people talking to the bot;
* not at all when the caller paid already (notices and broadcasts ``acquire`` per recipient
  themselves, with the chat, and their sends are not counted twice).

A 429 from any call pauses the whole budget, for every instance, for its ``retry_after``.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from core.platform.budget import SendBudget, in_bulk_lane, take_prepaid

_NOT_MESSAGES = frozenset({"sendChatAction"})


def draws(method: TelegramMethod[Any]) -> bool:
    """Whether ``method`` puts a message in a chat (what Telegram's flood limits count)."""
    name = method.__api_method__
    if name in _NOT_MESSAGES:
        return False
    return name.startswith(("send", "edit", "copyMessage", "forwardMessage"))


def _chat(method: TelegramMethod[Any]) -> int | None:
    chat = getattr(method, "chat_id", None)
    return chat if isinstance(chat, int) else None  # an @channel name: the overall window only


class DrawFromBudget(BaseRequestMiddleware):
    def __init__(self, budget: SendBudget) -> None:
        self.budget = budget

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        chat = _chat(method)
        if draws(method) and not take_prepaid(chat):
            await self.budget.draw(chat, reply=not in_bulk_lane())
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as err:
            await self.budget.hold(err.retry_after)
            raise


def install(bot: Bot, budget: SendBudget) -> None:
    """Add DrawFromBudget to the bot's session, once, inside QuietEdits (an edit that changes
    nothing is not sent, so it costs nothing)."""
    if not any(isinstance(m, DrawFromBudget) for m in bot.session.middleware):
        bot.session.middleware(DrawFromBudget(budget))
