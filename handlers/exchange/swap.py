"""/swap: quote then confirm. ``/swap AMOUNT FROM TO`` (AMOUNT may be "all" or "half"), or buttons:
a coin held, the coin wanted, then all, half or a typed amount. Confirm (handlers.exchange.views)
executes the quote once; an expired or moved quote comes back fresh, to confirm again."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.exchange import SWAPPABLE, cancel_quote, confirm_quote, policy_for, quote_swap
from core.exchange.swaps import ALL, HALF, swappable
from core.identity.users import User
from core.money import ledger
from core.money.accounts import user_account
from core.money.amounts import parse_amount
from core.money.assets import get_asset
from core.platform.db import Database
from core.platform.params import Params
from handlers.common.args import words
from handlers.common.data import shown, text_of
from handlers.common.filters import NotCommand
from handlers.common.i18n import _
from handlers.common.menu import MAX_ID, MenuCB, back_button
from handlers.common.private import private_chat_only
from handlers.exchange.views import QuoteCB, done_text, quote_view


class SwapCB(CallbackData, prefix="sw"):
    step: str  # from | to | amount
    frm: str = ""
    to: str = ""
    part: str = ""  # all | half | type


class Swapping(StatesGroup):
    amount = State()


def usage() -> str:
    return _("Usage: /swap AMOUNT FROM TO, e.g. /swap 0.0001 BTC DOGE (AMOUNT may be all or half)")


def amount_of(text: str, frm: str) -> int | str:
    low = text.strip().lower()
    if low in (ALL, HALF):
        return low
    return parse_amount(text, get_asset(swappable(frm)))


async def make_quote(
    message: Message, user: User, db: Database, params: Params, frm: str, to: str, text: str
) -> None:
    await params.refresh(db)
    value = amount_of(text, frm)
    q = await db.write(quote_swap, user.id, frm, to, value, policy_for(params))
    body, kb = quote_view(q)
    await message.answer(body, reply_markup=kb)


async def coins_held(db: Database, user: User) -> InlineKeyboardMarkup:
    held = await db.read(ledger.balances, user_account(user.id))
    kb = InlineKeyboardBuilder()
    for code in SWAPPABLE:
        if code in held and held[code].available > 0:
            kb.button(text=code, callback_data=SwapCB(step="from", frm=code))
    kb.adjust(3)
    kb.row(back_button())
    return kb.as_markup()


async def cmd_swap(
    message: Message, command: CommandObject, user: User, db: Database, params: Params
) -> None:
    args = words(command)
    if not args:
        await message.answer(_("Which coin do you want to swap?"), reply_markup=await coins_held(db, user))
    elif len(args) != 3:
        await message.answer(usage())
    else:
        await make_quote(message, user, db, params, args[1], args[2], args[0])


async def cb_menu(query: CallbackQuery, user: User, db: Database) -> None:
    await shown(query).edit_text(
        _("Which coin do you want to swap?"), reply_markup=await coins_held(db, user)
    )
    await query.answer()


async def cb_from(query: CallbackQuery, callback_data: SwapCB) -> None:
    frm = swappable(callback_data.frm)  # a forged coin gets the error router's answer
    kb = InlineKeyboardBuilder()
    for code in SWAPPABLE:
        if code != frm:
            kb.button(text=code, callback_data=SwapCB(step="to", frm=frm, to=code))
    kb.adjust(3)
    await shown(query).edit_text(
        _("Swap {asset} into which coin?").format(asset=frm), reply_markup=kb.as_markup()
    )
    await query.answer()


async def cb_to(query: CallbackQuery, callback_data: SwapCB) -> None:
    frm, to = swappable(callback_data.frm), swappable(callback_data.to)
    kb = InlineKeyboardBuilder()
    for part, label in ((ALL, _("All")), (HALF, _("Half")), ("type", _("Type an amount"))):
        kb.button(text=label, callback_data=SwapCB(step="amount", frm=frm, to=to, part=part))
    await shown(query).edit_text(
        _("How much {frm} do you want to swap into {to}?").format(frm=frm, to=to), reply_markup=kb.as_markup()
    )
    await query.answer()


async def cb_amount(
    query: CallbackQuery, callback_data: SwapCB, user: User, db: Database, params: Params, state: FSMContext
) -> None:
    message = shown(query)
    d = callback_data
    if d.part == "type":
        swappable(d.frm), swappable(d.to)
        await state.set_state(Swapping.amount)
        await state.set_data({"frm": d.frm, "to": d.to})
        await message.answer(_("Send the amount of {asset} to swap, like 0.0001.").format(asset=d.frm))
    else:
        await make_quote(message, user, db, params, d.frm, d.to, d.part)
    await query.answer()


async def on_amount_input(
    message: Message, state: FSMContext, user: User, db: Database, params: Params
) -> None:
    data = await state.get_data()
    await state.clear()
    await make_quote(message, user, db, params, str(data["frm"]), str(data["to"]), text_of(message))


async def cb_confirm(
    query: CallbackQuery, callback_data: QuoteCB, user: User, db: Database, params: Params
) -> None:
    message = shown(query)
    await params.refresh(db)
    out = await db.write(confirm_quote, user.id, callback_data.id, policy_for(params))
    await query.answer()
    if out.status == "requoted":
        body, kb = quote_view(out.quote)
        await message.answer(
            _("The quote expired or the rate moved. Here is a fresh one:") + "\n\n" + body, reply_markup=kb
        )
    else:
        await message.edit_text(done_text(out.quote, again=out.status == "already"))


async def cb_cancel(query: CallbackQuery, callback_data: QuoteCB, user: User, db: Database) -> None:
    message = shown(query)
    q = await db.write(cancel_quote, user.id, callback_data.id)
    await message.edit_text(
        done_text(q, again=True) if q.state == "done" else _("Cancelled. Nothing was swapped.")
    )
    await query.answer()


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_swap, Command("swap"))
    routes.callback_query.register(cb_menu, MenuCB.filter(F.to == "swap"))
    routes.callback_query.register(cb_from, SwapCB.filter(F.step == "from"))
    routes.callback_query.register(cb_to, SwapCB.filter(F.step == "to"))
    routes.callback_query.register(
        cb_amount, SwapCB.filter((F.step == "amount") & F.part.in_({ALL, HALF, "type"}))
    )
    routes.message.register(on_amount_input, Swapping.amount, NotCommand())
    routes.callback_query.register(
        cb_confirm, QuoteCB.filter((F.action == "ok") & (F.id > 0) & (F.id < MAX_ID))
    )
    routes.callback_query.register(
        cb_cancel, QuoteCB.filter((F.action == "no") & (F.id > 0) & (F.id < MAX_ID))
    )
    return routes
