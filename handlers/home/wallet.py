"""/balance and /history: what the user holds and how it got there."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.identity.users import User
from core.loyalty import boosts
from core.money import ledger
from core.money.accounts import user_account
from core.money.assets import ASSETS, POINTS
from core.platform.db import Database
from core.platform.schema import utcnow
from handlers.common.data import shown
from handlers.common.formatting import percent, wait_text
from handlers.common.i18n import _, amount
from handlers.common.labels import label
from handlers.common.menu import MenuCB, back_button, back_to_menu
from handlers.common.private import private_chat_only

PAGE = 10
MAX_PAGE = 10_000


class HistoryCB(CallbackData, prefix="h"):
    page: int


async def balance_text(db: Database, user: User) -> str:
    held = await db.read(ledger.balances, user_account(user.id))
    lines = [_("<b>Your balance</b>")]
    for code in ASSETS:
        b = held.get(code)
        line = amount(b.available if b else 0, code)
        if b and b.held:
            line += " " + _("({held} on hold)").format(held=amount(b.held, code))
        lines.append(line)
    lines += await loyalty_lines(db, user, held.get(POINTS.code))
    return "\n".join(lines)


async def loyalty_lines(db: Database, user: User, points: ledger.Balance | None) -> list[str]:
    """Reward points held, and the boost running with its time left (core.loyalty)."""
    lines = [amount(points.available if points else 0, POINTS.code)]
    boost = await db.read(boosts.active, user.id, utcnow())
    if boost is not None:
        lines.append(
            _("🚀 Boost +{percent}% for {time}").format(
                percent=percent(boost.bp), time=wait_text(boost.left(utcnow()))
            )
        )
    return lines


async def history_view(db: Database, user: User, page: int) -> tuple[str, InlineKeyboardMarkup]:
    moves, total = await db.read(ledger.history, user_account(user.id), limit=PAGE, offset=page * PAGE)
    pages = max(1, -(-total // PAGE))
    if not moves:
        text = (
            _("No movements yet. Your earnings will show up here.") if total == 0 else _("No more movements.")
        )
    else:
        lines = [
            _("<b>History</b> (page {page} of {pages}, newest first)").format(page=page + 1, pages=pages)
        ]
        for m in moves:
            sign = "+" if m.amount > 0 else "−"
            lines.append(
                f"{'📥' if m.amount > 0 else '📤'} {sign}{amount(abs(m.amount), m.asset)} · {label(m.code)}\n"
                f"    <i>{m.created_at:%Y-%m-%d %H:%M} UTC</i>"
            )
        text = "\n".join(lines)
    kb = InlineKeyboardBuilder()
    if page > 0:
        kb.button(text=_("◀️ Newer"), callback_data=HistoryCB(page=page - 1))
    if (page + 1) * PAGE < total:
        kb.button(text=_("Older ▶️"), callback_data=HistoryCB(page=page + 1))
    kb.row(back_button())
    return text, kb.as_markup()


async def cmd_balance(message: Message, user: User, db: Database) -> None:
    await message.answer(await balance_text(db, user), reply_markup=back_to_menu())


async def cb_balance(query: CallbackQuery, user: User, db: Database) -> None:
    message = shown(query)
    await message.edit_text(await balance_text(db, user), reply_markup=back_to_menu())
    await query.answer()


async def cmd_history(message: Message, user: User, db: Database) -> None:
    text, kb = await history_view(db, user, 0)
    await message.answer(text, reply_markup=kb)


async def cb_history_menu(query: CallbackQuery, user: User, db: Database) -> None:
    message = shown(query)
    text, kb = await history_view(db, user, 0)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_history_page(query: CallbackQuery, callback_data: HistoryCB, user: User, db: Database) -> None:
    message = shown(query)
    text, kb = await history_view(db, user, callback_data.page)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_balance, Command("balance"))
    routes.callback_query.register(cb_balance, MenuCB.filter(F.to == "balance"))
    routes.message.register(cmd_history, Command("history"))
    routes.callback_query.register(cb_history_menu, MenuCB.filter(F.to == "history"))
    routes.callback_query.register(cb_history_page, HistoryCB.filter((F.page >= 0) & (F.page <= MAX_PAGE)))
    return routes
