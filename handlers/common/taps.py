"""Phones tap twice and tap fast. Two rules, kept in one place for every handler and job:

* An edit Telegram refuses with "message is not modified" (the same tap twice, a screen shown
  again) did what it was asked: the message already shows it. ``QuietEdits``, a middleware of
  the bot's session, turns that refusal into success, so no handler needs to catch it and the
  error router never calls it a failure. It also remembers what this process last put in each
  message (text and keyboard), and an edit that would change nothing is not sent at all: a burst
  of taps costs no API errors and no flood-control budget.
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
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import Message, TelegramObject, Update

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


def _markup(method: Any) -> str:
    markup = getattr(method, "reply_markup", None)
    return markup.model_dump_json(exclude_none=True) if markup is not None else ""


def _text(method: SendMessage | EditMessageText) -> str:
    return repr((method.text, method.parse_mode, method.entities, method.link_preview_options))


class QuietEdits(BaseRequestMiddleware):
    """Session middleware: "not modified" is success, an edit to what a message already shows is
    not sent, and a tap's second answer is not sent.

    ``screens`` maps (chat, message) to (text, keyboard) as last sent or edited by this process,
    including edits still on their way (a burst's second tap must not send what the first is
    sending). Another instance may have changed a message since; then the edit is sent, and
    Telegram's "not modified" is success too. Bounded: emptied past ``MAX_SCREENS``.
    """

    MAX_SCREENS = 50_000

    def __init__(self) -> None:
        self.screens: dict[tuple[int | str, int], tuple[str, str]] = {}

    def _key(self, method: Any) -> tuple[int | str, int] | None:
        chat, message = getattr(method, "chat_id", None), getattr(method, "message_id", None)
        return (chat, message) if chat is not None and isinstance(message, int) else None

    def _remember(self, key: tuple[int | str, int], screen: tuple[str, str]) -> None:
        if len(self.screens) >= self.MAX_SCREENS:
            self.screens.clear()
        self.screens[key] = screen

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, AnswerCallbackQuery):
            return await self._answer(make_request, bot, method)
        if isinstance(method, SendMessage):
            return await self._sent(make_request, bot, method)
        key = self._key(method)
        if key is None or not isinstance(method, EditMessageText | EditMessageReplyMarkup):
            if key is not None:  # a caption, media or deletion: what we knew of it is stale
                self.screens.pop(key, None)
            return await self._send(make_request, bot, method)
        before = self.screens.get(key)
        text = _text(method) if isinstance(method, EditMessageText) else (before[0] if before else "")
        after = (text, _markup(method))
        if before == after and text:
            return _DONE  # the message shows exactly this already
        self._remember(key, after)
        try:
            return await self._send(make_request, bot, method)
        except Exception:
            if self.screens.get(key) == after:  # it may show the old screen still: ask next time
                self.screens.pop(key, None)
            raise

    async def _sent(self, make_request: Any, bot: Bot, method: SendMessage) -> Any:
        result = await make_request(bot, method)
        if isinstance(result, Message):
            self._remember((method.chat_id, result.message_id), (_text(method), _markup(method)))
        return result

    @staticmethod
    async def _answer(make_request: Any, bot: Bot, method: AnswerCallbackQuery) -> Any:
        tap = _tap.get()
        if tap is not None and tap.id == method.callback_query_id:
            if tap.answered:
                log.debug("tap %s answered already; a second answer is not sent", tap.id)
                return _DONE
            tap.answered = True
        return await make_request(bot, method)

    @staticmethod
    async def _send(make_request: Any, bot: Bot, method: Any) -> Any:
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
