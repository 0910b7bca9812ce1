"""/help: every command, explained in the user's language."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from handlers.commands import PUBLIC
from handlers.i18n import _
from handlers.menu import MenuCB, back_to_menu

router = Router(name=__name__)


def help_text() -> str:
    lines = [_("<b>Dustpan commands</b>")]
    lines += [f"/{name} — {text}" for name, text in PUBLIC]
    lines.append("")
    lines.append(_("Amounts are written like 0.0001 (a comma works too). Every coin keeps its own balance."))
    return "\n".join(lines)


@router.message(Command("help"))
async def cmd_help(message: Message) -> None:
    await message.answer(help_text(), reply_markup=back_to_menu())


@router.callback_query(MenuCB.filter(F.to == "help"))
async def cb_help(query: CallbackQuery) -> None:
    await query.message.edit_text(help_text(), reply_markup=back_to_menu())
    await query.answer()
