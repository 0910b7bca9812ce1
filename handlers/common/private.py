"""Money and secrets are shown only in a private chat with the bot.

A feature marks what shows them: ``private_chat_only(router)`` a whole router (balances,
addresses, withdrawals, 2FA, owner keys...), ``@private`` one handler of a router that is
otherwise public. In a group, a marked command gets a reply with one button that opens the
private chat (``https://t.me/<bot>?start=go-<command>``) and nothing else, and a marked
button opens the private chat straight away (answerCallbackQuery's ``url``). The handler
does not run there, so no balance, key or code is posted and no conversation (a 2FA code,
an address) is left waiting in the group.
"""

from __future__ import annotations

import re
from typing import Any

from aiogram import BaseMiddleware, Bot, Router, flags
from aiogram.dispatcher.flags import get_flag
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, TelegramObject

from handlers.common.i18n import _
from handlers.middlewares import Next

FLAG = "private"
private = getattr(flags, FLAG)  # ``@private`` under the router decorator marks one handler
_PAYLOAD = re.compile(r"[^a-z0-9_]")


class PrivateOnly(BaseMiddleware):
    """Inner middleware: outside a private chat, a marked handler is replaced by a deep link.

    ``everything``: every handler of the router it is installed on is marked.
    """

    def __init__(self, *, everything: bool = False) -> None:
        self.everything = everything

    async def __call__(self, handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, CallbackQuery):
            # No message: a tap on an inline-mode message, which this bot never sends.
            chat = event.message.chat if event.message is not None else None
        elif isinstance(event, Message):
            chat = event.chat
        else:
            return await handler(event, data)
        if chat is None or chat.type == "private":
            return await handler(event, data)
        if not (self.everything or get_flag(data, FLAG)):
            return await handler(event, data)
        command = data.get("command")
        what = _PAYLOAD.sub("", command.command.lower())[:40] if command is not None else ""
        link = await deep_link(data["bot"], data, what or "menu")
        if isinstance(event, CallbackQuery):
            await event.answer(url=link)
        else:
            button = InlineKeyboardButton(text=_("🔒 Open the private chat"), url=link)
            await event.reply(
                _("🔒 I answer that only in our private chat, where nobody else can read it."),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
            )
        return None


def private_chat_only(router: Router) -> Router:
    """Mark every message and button handler of ``router`` as private-chat only."""
    router.message.middleware(PrivateOnly(everything=True))
    router.callback_query.middleware(PrivateOnly(everything=True))
    return router


async def deep_link(bot: Bot, data: dict[str, Any], what: str) -> str:
    """``https://t.me/<bot>?start=go-<what>``: opens the private chat; /start shows the menu there."""
    username = data.get("bot_username") or (await bot.me()).username  # getMe, cached by bot.py and aiogram
    return f"https://t.me/{username}?start=go-{what}"
