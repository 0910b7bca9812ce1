"""/language: pick one of the five languages; the choice beats Telegram's language_code."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.identity import users
from core.identity.users import LANGUAGES, User
from core.platform.db import Database
from handlers.common.data import shown
from handlers.common.i18n import LANGUAGE_NAMES, I18n, _
from handlers.common.menu import MenuCB, back_button, main_menu
from handlers.middlewares import Members


class LangCB(CallbackData, prefix="l"):
    code: str


def picker(current: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code in LANGUAGES:
        mark = "✅ " if code == current else ""
        kb.button(text=f"{mark}{LANGUAGE_NAMES[code]}", callback_data=LangCB(code=code))
    kb.adjust(2)
    kb.row(back_button())
    return kb.as_markup()


async def cmd_language(message: Message, user: User) -> None:
    await message.answer(_("Choose your language:"), reply_markup=picker(user.locale))


async def cb_language_menu(query: CallbackQuery, user: User) -> None:
    message = shown(query)
    await message.edit_text(_("Choose your language:"), reply_markup=picker(user.locale))
    await query.answer()


async def cb_set_language(
    query: CallbackQuery, callback_data: LangCB, db: Database, members: Members, i18n: I18n
) -> None:
    message = shown(query)
    user = await db.write(users.set_language, query.from_user.id, callback_data.code)
    members.remember(user)
    with i18n.use_locale(user.locale):
        await message.edit_text(_("Language set to English."), reply_markup=main_menu())
        await query.answer()


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_language, Command("language"))
    routes.callback_query.register(cb_language_menu, MenuCB.filter(F.to == "language"))
    routes.callback_query.register(cb_set_language, LangCB.filter(F.code.in_(LANGUAGES)))
    return routes
