"""/balance and /history: what the user holds and how it got there."""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import lru_cache

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.identity.users import User
from core.loyalty import boosts
from core.money import ledger, wallet
from core.money.accounts import user_account
from core.money.assets import ASSETS, POINTS
from core.platform.db import Database
from core.platform.schema import utcnow
from handlers.common import notices as notice_texts
from handlers.common.data import shown
from handlers.common.formatting import percent, wait_text
from handlers.common.i18n import _, amount, get_i18n
from handlers.common.labels import label
from handlers.common.menu import MenuCB, back_button
from handlers.common.private import private_chat_only
from handlers.exchange.sweep import sweep_button

PAGE = 10
MAX_PAGE = 10_000


class HistoryCB(CallbackData, prefix="h"):
    page: int


class BalanceCB(CallbackData, prefix="bal"):
    all: int  # 1: every coin, zeros included


# How each feature's extra /balance line reads (core.money.wallet.Extra.kind -> text).
ExtraLine = Callable[[wallet.Extra], str]
extra_lines: dict[str, ExtraLine] = {}


def _coin_line(code: str, b: ledger.Balance | None) -> str:
    line = amount(b.available if b else 0, code)
    if b and b.held:
        line += " " + _("({held} on hold)").format(held=amount(b.held, code))
    return line


@lru_cache(maxsize=64)
def _keyboard(mode: str, locale: str) -> InlineKeyboardMarkup:
    """The balance screen's buttons, built once per mode and language (``_`` reads the locale
    the middleware set, which is ``locale``); nothing mutates a sent markup."""
    kb = InlineKeyboardBuilder()
    if mode == "empty":
        kb.button(text=_("🚰 Faucet"), callback_data=MenuCB(to="faucet"))
        kb.button(text=_("🌐 Faucet sites"), callback_data=MenuCB(to="faucets"))
        kb.button(text=_("Show all coins"), callback_data=BalanceCB(all=1))
        kb.adjust(2, 1)
    elif mode == "all":
        kb.button(text=_("Only coins I hold"), callback_data=BalanceCB(all=0))
    elif mode == "some":
        kb.button(text=_("Show all coins"), callback_data=BalanceCB(all=1))
    if mode != "empty":
        kb.row(sweep_button())  # sweep the dust into one coin (handlers.exchange)
    kb.row(back_button())
    return kb.as_markup()


def balance_view(
    s: wallet.Summary, show_all: bool = False, more: list[str] | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    """The coins held (all coins with ``show_all``), holds, reward points and boost (``more``),
    and the features' extra lines; a user with nothing yet gets one line and the buttons that
    earn something."""
    more = more or []
    locale = get_i18n().current_locale
    if s.empty and not more and not show_all:
        text = _("<b>Your balance</b>\nNothing yet: try the faucet, it pays every few minutes.")
        return text, _keyboard("empty", locale)
    lines = [_("<b>Your balance</b>")]
    codes = list(ASSETS) if show_all else [c for c in s.held if c in ASSETS]
    lines += [_coin_line(code, s.balances.get(code)) for code in codes]
    lines += more
    for extra in s.extras:
        render = extra_lines.get(extra.kind)
        if render is not None:
            lines.append(render(extra))
    mode = "all" if show_all else ("some" if len(codes) < len(ASSETS) else "every")
    return "\n".join(lines), _keyboard(mode, locale)


async def balance_screen(
    db: Database, user: User, show_all: bool = False
) -> tuple[str, InlineKeyboardMarkup]:
    s = await db.read(wallet.summary, user.id)
    return balance_view(s, show_all, await loyalty_lines(db, user, s.balances.get(POINTS.code)))


async def loyalty_lines(db: Database, user: User, points: ledger.Balance | None) -> list[str]:
    """Reward points held (when there are any), and the boost running with its time left
    (core.loyalty)."""
    lines = [amount(points.available, POINTS.code)] if points and points.available else []
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


async def balance_text(db: Database, user: User) -> tuple[str, InlineKeyboardMarkup]:
    """The /balance screen (text and buttons) as the command and the menu show it."""
    return await balance_screen(db, user)


async def cmd_balance(message: Message, user: User, db: Database) -> None:
    text, kb = await balance_text(db, user)
    await message.answer(text, reply_markup=kb)


async def cb_balance(query: CallbackQuery, user: User, db: Database) -> None:
    message = shown(query)
    text, kb = await balance_text(db, user)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_balance_all(query: CallbackQuery, callback_data: BalanceCB, user: User, db: Database) -> None:
    message = shown(query)
    text, kb = await balance_screen(db, user, show_all=bool(callback_data.all))
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


def _credited(p: dict) -> str:
    return _("💰 The Dustpan team credited you {amount}.\nReason: {reason}").format(
        amount=amount(int(p["amount"]), str(p["asset"])), reason=html.escape(str(p["reason"]))
    )


notice_texts.register("admin_credit", _credited)


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
    routes.callback_query.register(cb_balance_all, BalanceCB.filter(F.all.in_({0, 1})))
    routes.message.register(cmd_history, Command("history"))
    routes.callback_query.register(cb_history_menu, MenuCB.filter(F.to == "history"))
    routes.callback_query.register(cb_history_page, HistoryCB.filter((F.page >= 0) & (F.page <= MAX_PAGE)))
    return routes
