"""Prompts that wait for typed input (a 2FA code, withdrawal details, a signature) always have
a way out: a ✖️ Cancel button under the prompt, and any command typed meanwhile leaves the
prompt (``LeavePrompt``), so the next plain text is never taken for the old question's answer.

A feature sets its FSM state, sends the prompt with ``cancel_markup()``, then calls
``remember(state, sent, delete_on_leave=...)``; messages listed to delete on leaving (a 2FA QR
code) are taken out of the chat when the prompt is cancelled or left.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, TelegramObject

from handlers.common.data import shown
from handlers.common.i18n import _
from handlers.common.menu import back_to_menu
from handlers.middlewares import Next

log = logging.getLogger(__name__)


class PromptCB(CallbackData, prefix="prompt"):
    action: str  # cancel


def cancel_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("✖️ Cancel"), callback_data=PromptCB(action="cancel").pack())


def cancel_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[cancel_button()]])


async def remember(state: FSMContext, sent: Message, *, delete_on_leave: bool = False) -> None:
    """Note ``sent`` as the prompt now waiting (its Cancel button is the live one)."""
    data = await state.get_data()
    data["prompt"] = sent.message_id
    if delete_on_leave:
        data["delete_on_leave"] = [*data.get("delete_on_leave", []), sent.message_id]
    await state.set_data(data)


async def leave(state: FSMContext, bot: Bot, chat_id: int) -> list[int]:
    """End the prompt: clear the state and delete what it asked to; returns the deleted ids."""
    data = await state.get_data()
    await state.clear()
    deleted = []
    for message_id in data.get("delete_on_leave", []):
        try:
            await bot.delete_message(chat_id, message_id)
            deleted.append(message_id)
        except Exception:  # too old, or gone already
            log.debug("could not delete a prompt's message")
    return deleted


def cancelled_text() -> str:
    return _("Cancelled. Nothing was changed.")


async def cb_cancel(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
    message = shown(query)
    data = await state.get_data()
    if await state.get_state() is None or data.get("prompt") != message.message_id:
        await query.answer(_("That question is no longer open."))
        await message.edit_reply_markup(reply_markup=None)
        return
    deleted = await leave(state, bot, message.chat.id)
    if message.message_id in deleted or message.text is None:
        await message.answer(cancelled_text(), reply_markup=back_to_menu())
    else:
        await message.edit_text(cancelled_text(), reply_markup=back_to_menu())
    await query.answer()


class LeavePrompt(BaseMiddleware):
    """Outer message middleware: a command typed while a prompt waits ends the prompt first."""

    async def __call__(self, handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        state: FSMContext | None = data.get("state")
        if (
            isinstance(event, Message)
            and state is not None
            and data.get("raw_state") is not None  # read once per update by aiogram's FSM middleware
            and (event.text or "").startswith("/")
        ):
            await leave(state, data["bot"], event.chat.id)
        return await handler(event, data)


def router() -> Router:
    routes = Router(name=__name__)
    routes.callback_query.register(cb_cancel, PromptCB.filter(F.action == "cancel"))
    return routes
