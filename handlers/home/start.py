"""/start (with or without a deep-link payload) and the way back to the main menu."""

from __future__ import annotations

import html

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message

from core.earn import referrals
from core.identity.users import User
from core.platform.db import Database
from handlers.common.commands import register_admin_commands
from handlers.common.data import AdminIds, shown
from handlers.common.i18n import I18n, _
from handlers.common.menu import MenuCB, main_menu

PAYLOAD_MAX = 64  # Telegram allows up to 64 characters of A-Z, a-z, 0-9, _ and -


def welcome(user: User) -> str:
    return _(
        "Hi, {name}! Dustpan collects tiny amounts of crypto from small tasks into one wallet. "
        "Withdraw to your own wallet once you reach the minimum.\n\nWhat would you like to do?"
    ).format(name=html.escape(user.first_name or user.username or "friend"))


async def cmd_start(
    message: Message,
    command: CommandObject,
    user: User,
    db: Database,
    admin_ids: AdminIds,
    i18n: I18n,
    bot: Bot,
) -> None:
    payload = (command.args or "").strip()
    valid = (
        payload
        if payload and len(payload) <= PAYLOAD_MAX and payload.replace("-", "").replace("_", "").isalnum()
        else None
    )
    await db.write(referrals.record_start, user.id, valid if valid and valid.isascii() else None)
    await message.answer(welcome(user), reply_markup=main_menu())
    if user.id in admin_ids:
        await register_admin_commands(bot, i18n, user.id)


async def cb_home(query: CallbackQuery, user: User) -> None:
    message = shown(query)
    await message.edit_text(welcome(user), reply_markup=main_menu())
    await query.answer()


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_start, CommandStart())
    routes.callback_query.register(cb_home, MenuCB.filter(F.to == "home"))
    return routes
