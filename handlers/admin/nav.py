"""The console's buttons: one callback data for every screen, the console keyboard, the ⬅️ back
row, editing the one console message in place, and running a typed command on the admin's behalf.

Screens that change something (a setting, a broadcast) do not call core themselves: they run the
very command an admin would type (``/set KEY VALUE``, ``/broadcast TEXT``) through the dispatcher,
so the same 2FA gate (handlers.admin.codes), validation, audit line and answer apply, unchanged.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from aiogram.types import User as TgUser
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.common.data import shown
from handlers.common.i18n import _


class ConsoleCB(CallbackData, prefix="con"):
    to: str  # home | dash | users | wd | ads | set | setg | setk | setv | sett | bc | rep | chart | csv
    arg: str = ""
    n: int = 0  # a page, a period in days, a preset's index


def console_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📊 Dashboard"), callback_data=ConsoleCB(to="dash"))
    kb.button(text=_("👥 Users"), callback_data=ConsoleCB(to="users"))
    kb.button(text=_("📤 Withdrawals"), callback_data=ConsoleCB(to="wd"))
    kb.button(text=_("📢 Campaigns"), callback_data=ConsoleCB(to="ads"))
    kb.button(text=_("⚙️ Settings"), callback_data=ConsoleCB(to="set"))
    kb.button(text=_("✉️ Broadcast"), callback_data=ConsoleCB(to="bc"))
    kb.button(text=_("📈 Reports"), callback_data=ConsoleCB(to="rep"))
    kb.adjust(2, 2, 2, 1)
    return kb.as_markup()


def back_button(to: str = "home", arg: str = "", n: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("⬅️ Back"), callback_data=ConsoleCB(to=to, arg=arg, n=n).pack())


def with_back(markup: InlineKeyboardMarkup | None, to: str = "home") -> InlineKeyboardMarkup:
    rows = list(markup.inline_keyboard) if markup is not None else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [back_button(to)]])


async def show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> Message:
    """Draw a screen on the console message (a second tap on the same screen is not an error)."""
    message = shown(query)
    with contextlib.suppress(TelegramBadRequest):  # "message is not modified"
        await message.edit_text(text, reply_markup=markup)
    return message


async def run_command(
    dispatcher: Dispatcher,
    bot: Bot,
    update: Update,
    chat: Message,
    sender: TgUser,
    text: str,
    message_id: int,
) -> None:
    """Feed ``text`` (``/command args``) as if ``sender`` had typed it in ``chat``'s chat."""
    typed = Message(
        message_id=message_id,
        date=datetime.now(UTC),
        chat=chat.chat,
        from_user=sender,
        text=text,
        entities=[MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))],
    )
    await dispatcher.feed_update(bot, Update(update_id=update.update_id, message=typed))
