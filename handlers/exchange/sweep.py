"""/sweep ASSET (and the button on /balance): convert every other coin held into ASSET at once.

The preview lists each leg with its amount and rate, the legs skipped (below the swap minimum,
no fresh price) and the total; Confirm (the same QuoteCB as /swap) executes all legs or none."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.exchange import SWAPPABLE, policy_for, quote_sweep
from core.identity.users import User
from core.platform.db import Database
from core.platform.params import Params
from handlers.common.args import words
from handlers.common.data import shown
from handlers.common.i18n import _
from handlers.common.menu import back_button
from handlers.common.private import private_chat_only
from handlers.exchange.views import quote_view


class SweepCB(CallbackData, prefix="swp"):
    to: str = ""  # empty: choose the coin


def sweep_button() -> InlineKeyboardButton:
    """The /balance button (handlers.home.wallet)."""
    return InlineKeyboardButton(text=_("🧹 Sweep dust into one coin"), callback_data=SweepCB().pack())


def targets() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code in SWAPPABLE:
        kb.button(text=code, callback_data=SweepCB(to=code))
    kb.adjust(3)
    kb.row(back_button())
    return kb.as_markup()


def choose_text() -> str:
    return _("Sweep every other coin you hold into which coin?")


async def preview(message: Message, user: User, db: Database, params: Params, target: str) -> None:
    await params.refresh(db)
    q = await db.write(quote_sweep, user.id, target, policy_for(params))
    body, kb = quote_view(q)
    await message.answer(body, reply_markup=kb)


async def cmd_sweep(
    message: Message, command: CommandObject, user: User, db: Database, params: Params
) -> None:
    args = words(command)
    if len(args) > 1:
        await message.answer(_("Usage: /sweep ASSET, e.g. /sweep DOGE"))
    elif not args:
        await message.answer(choose_text(), reply_markup=targets())
    else:
        await preview(message, user, db, params, args[0])


async def cb_sweep(
    query: CallbackQuery, callback_data: SweepCB, user: User, db: Database, params: Params
) -> None:
    message = shown(query)
    if not callback_data.to:
        await message.answer(choose_text(), reply_markup=targets())
    else:
        await preview(message, user, db, params, callback_data.to)
    await query.answer()


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_sweep, Command("sweep"))
    routes.callback_query.register(cb_sweep, SweepCB.filter())
    return routes
