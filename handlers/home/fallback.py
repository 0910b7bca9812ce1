"""Last in line: unknown commands and stale or forged buttons get a polite answer."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from handlers.common.i18n import _


def unknown_command_text() -> str:
    return _("Sorry, I don't know that command. Send /help to see what I can do.")


async def on_anything_else(message: Message) -> None:
    if message.chat.type != "private":
        return
    if message.text and message.text.startswith("/"):
        await message.answer(unknown_command_text())
    else:
        await message.answer(
            _("I understand commands and buttons. Send /start for the menu or /help for the list.")
        )


async def on_stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer valid. Send /start for a fresh menu."), show_alert=True)


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(on_anything_else)
    routes.callback_query.register(on_stale_button)
    return routes
