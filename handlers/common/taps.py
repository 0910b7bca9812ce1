"""Phones tap twice and tap fast. Two rules, kept in one place for every handler and job:

* An edit Telegram refuses with "message is not modified" (the same tap twice, a screen shown
  again) did what it was asked: the message already shows it. ``QuietEdits``, a middleware of
  the bot's session, turns that refusal into success, so no handler needs to catch it and the
  error router never calls it a failure.
* Every callback query is answered exactly once, or the button keeps spinning on the phone.
  ``AnswerEveryTap`` (outermost update middleware, outside the error router) notes each tap;
  ``QuietEdits`` lets only the first answer to it through; when the update is done (handled,
  dropped by the throttle, or failed) a tap nobody answered gets an empty answer.

``install(bot)`` adds ``QuietEdits`` to a bot's session once; ``AnswerEveryTap`` does it for the
bot of every update, bot.py does it at start for the jobs' messages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageCaption,
    EditMessageMedia,
    EditMessageReplyMarkup,
    EditMessageText,
    Response,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update

log = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"
_EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption, EditMessageMedia)
# What the session hands back is the method's result (aiogram's annotation says Response): True is
# what Telegram returns for an edit of an inline message and for an answer.
_DONE = cast(Any, True)


@dataclass
class Tap:
    """The callback query of the update being handled, and whether it has been answered."""

    id: str
    answered: bool = False


_tap: ContextVar[Tap | None] = ContextVar("dustpan_tap", default=None)


def current_tap_answered() -> bool:
    """True when the callback query of the update being handled was answered already (so an
    error must be told in a message: a second answer would not reach the phone)."""
    tap = _tap.get()
    return tap is not None and tap.answered


def is_not_modified(error: BaseException) -> bool:
    return isinstance(error, TelegramBadRequest) and NOT_MODIFIED in str(error.message).lower()


class QuietEdits(BaseRequestMiddleware):
    """Session middleware: "not modified" is success; a tap's second answer is not sent."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, AnswerCallbackQuery):
            tap = _tap.get()
            if tap is not None and tap.id == method.callback_query_id:
                if tap.answered:
                    log.debug("tap %s answered already; a second answer is not sent", tap.id)
                    return _DONE
                tap.answered = True
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as err:
            if isinstance(method, _EDITS) and is_not_modified(err):
                return _DONE
            raise


def install(bot: Bot) -> None:
    """Add QuietEdits to the bot's session, once."""
    if not any(isinstance(m, QuietEdits) for m in bot.session.middleware):
        bot.session.middleware(QuietEdits())


Next = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class AnswerEveryTap(BaseMiddleware):
    """Outermost update middleware: a tap leaves no button spinning, whatever happened to it."""

    async def __call__(self, handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        bot: Bot | None = data.get("bot")
        if bot is not None:
            install(bot)
        query = event.callback_query if isinstance(event, Update) else None
        if query is None or bot is None:
            return await handler(event, data)
        tap = Tap(query.id)
        token = _tap.set(tap)
        try:
            return await handler(event, data)
        finally:
            if not tap.answered:
                try:
                    await bot.answer_callback_query(query.id)
                except Exception:  # an expired query cannot be answered; nothing else to do
                    log.info("could not answer tap %s", query.id, exc_info=True)
            _tap.reset(token)


def outermost(dp: Any, middleware: BaseMiddleware) -> None:
    """Put ``middleware`` before aiogram's error middleware (the first outer update middleware)."""
    manager = dp.update.outer_middleware
    others = list(manager)
    for m in others:
        manager.unregister(m)
    manager(middleware)
    for m in others:
        manager(m)
