"""/help: every command, explained in the user's language."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from core.identity.users import User
from handlers.common.commands import ADMIN, PUBLIC
from handlers.common.data import shown
from handlers.common.i18n import _
from handlers.common.menu import MenuCB, back_to_menu


def help_text(is_admin: bool = False) -> str:
    lines = [_("<b>Dustpan commands</b>")]
    lines += [f"/{name} — {text}" for name, text in PUBLIC + (ADMIN if is_admin else [])]
    lines.append("")
    lines.append(_("Amounts are written like 0.0001 (a comma works too). Every coin keeps its own balance."))
    return "\n".join(lines)


async def cmd_help(message: Message, user: User, admin_ids: frozenset[int]) -> None:
    await message.answer(help_text(user.id in admin_ids), reply_markup=back_to_menu())


async def cb_help(query: CallbackQuery, user: User, admin_ids: frozenset[int]) -> None:
    message = shown(query)
    await message.edit_text(help_text(user.id in admin_ids), reply_markup=back_to_menu())
    await query.answer()


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_help, Command("help"))
    routes.callback_query.register(cb_help, MenuCB.filter(F.to == "help"))
    return routes
