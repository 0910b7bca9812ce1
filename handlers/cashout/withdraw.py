"""/withdraw and /withdrawals: quote, confirm (with 2FA when on), cancel, follow the state.

``/withdraw AMOUNT ASSET ADDRESS_OR_LABEL`` (or the buttons) makes a draft and shows the fee
and what will arrive; Confirm reserves the amount (pressing it twice makes one withdrawal),
Cancel voids it until the withdrawal is batched.
"""

from __future__ import annotations

import contextlib
import html
from functools import partial
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.cashout import withdrawals
from core.config import Settings
from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import ASSET_CODES, get_asset
from core.money.codes import Code
from core.platform.db import Database
from core.platform.params import Params
from handlers.common import errors, labels
from handlers.common import notices as notice_texts
from handlers.common.args import words
from handlers.common.data import shown, text_of
from handlers.common.filters import NotCommand
from handlers.common.i18n import _, __, amount
from handlers.common.menu import MAX_ID, MenuCB, back_button
from handlers.common.private import private_chat_only
from handlers.common.prompts import cancel_markup, remember
from handlers.security.twofa import code_or_run, guarded, on_code
from handlers.trust import follow


class WdCB(CallbackData, prefix="wd"):
    action: str  # ok | no (cancel the quote) | nl (cancel from /withdrawals) | asset
    id: int = 0
    asset: str = ""


class Withdraw(StatesGroup):
    details = State()


Withdrawal = withdrawals.State  # aiogram has its own State


def state_name(state: str) -> str:
    return str(STATE_NAMES.get(state, state))


STATE_NAMES: dict[str, object] = {  # every withdrawals.State (a test checks)
    Withdrawal.DRAFT: __("not confirmed"),
    Withdrawal.REQUESTED: __("waiting for approval"),
    Withdrawal.APPROVED: __("approved"),
    Withdrawal.BATCHED: __("being sent"),
    Withdrawal.SENT: __("sent"),
    Withdrawal.FAILED: __("failed"),
    Withdrawal.CANCELLED: __("cancelled"),
    Withdrawal.UNKNOWN: __("being checked"),
}


# A failed withdrawal's reason as users read it: our own reason codes are translated; what
# an admin typed with /failed, or a payout service's own error, is shown as it is.
_REASONS = {
    withdrawals.REJECTED: __("an admin rejected it"),
    "rejected by an admin": __("an admin rejected it"),  # stored by earlier versions
    "not sent": __("it was not sent"),
    "payout node unreachable": __("the payout service could not be reached"),
    "payout service unreachable": __("the payout service could not be reached"),
}


def reason_text(reason: str) -> str:
    return str(_REASONS.get(reason, reason))


def _state_notice(p: dict) -> str:
    text = _("Withdrawal #{id} of {amount}: {state}.").format(
        id=p["id"], amount=amount(int(p["amount"]), p["asset"]), state=state_name(p["state"])
    )
    if p.get("txid"):
        text += "\n" + _("Transaction: {txid}").format(txid=html.escape(str(p["txid"])))
    if p.get("reason"):
        text += "\n" + _("Reason: {reason}").format(reason=html.escape(reason_text(str(p["reason"]))))
    if p["state"] == Withdrawal.FAILED:
        text += "\n" + _("The amount is back in your balance.")
    return text


notice_texts.register("withdrawal_state", _state_notice)
labels.register(Code.WITHDRAWAL, __("Withdrawal"))
labels.register(Code.WITHDRAWAL_OUT, __("Withdrawal sent on chain"))
labels.register(Code.WITHDRAWAL_FEE, __("Withdrawal fee"))
errors.register(
    "below_minimum",
    lambda e: _("The minimum withdrawal is {minimum}.").format(
        minimum=amount(int(e.params["minimum"]), str(e.params["asset"]))
    ),
)
errors.register("withdrawal_not_found", __("That withdrawal does not exist."))
errors.register("withdrawal_cancelled", __("That withdrawal was cancelled. Nothing was sent."))
errors.register("quote_expired", __("That quote expired. Please start the withdrawal again."))
errors.register("too_late_to_cancel", __("That withdrawal is already on its way and cannot be cancelled."))


def quote_view(w: withdrawals.Withdrawal) -> tuple[str, InlineKeyboardMarkup]:
    text = _(
        "<b>Withdrawal</b>\nTo: <code>{address}</code>\nAmount: {amount}\nNetwork fee: {fee}\n"
        "You will receive: <b>{arrives}</b>\n\nConfirm?"
    ).format(
        address=html.escape(w.address),
        amount=amount(w.amount, w.asset),
        fee=amount(w.fee, w.asset),
        arrives=amount(w.arrives, w.asset),
    )
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Confirm"), callback_data=WdCB(action="ok", id=w.id))
    kb.button(text=_("✖️ Cancel"), callback_data=WdCB(action="no", id=w.id))
    return text, kb.as_markup()


async def make_draft(message: Message, user: User, db: Database, params: Params, args: list[str]) -> None:
    asset = get_asset(args[1])
    value = parse_amount(args[0], asset)
    destination = args[2] if len(args) > 2 else None
    policy = withdrawals.policy_for(params, asset.code)
    w = await db.write(withdrawals.request_withdrawal, user.id, asset.code, value, destination, policy)
    text, kb = quote_view(w)
    await message.answer(text, reply_markup=kb)


def usage() -> str:
    return _("Usage: /withdraw AMOUNT ASSET ADDRESS_OR_LABEL\nExample: /withdraw 0.001 BTC my-wallet")


def asset_picker(coins: dict[str, int]) -> tuple[str, InlineKeyboardMarkup]:
    """Only the coins with enough for a withdrawal; none: say so, with the ways to earn."""
    kb = InlineKeyboardBuilder()
    for code, available in coins.items():
        kb.button(text=f"{code} · {amount(available, code)}", callback_data=WdCB(action="asset", asset=code))
    kb.adjust(2)
    if not coins:
        kb.button(text=_("🚰 Faucet"), callback_data=MenuCB(to="faucet"))
        kb.button(text=_("💰 Balance"), callback_data=MenuCB(to="balance"))
        kb.adjust(2)
        kb.row(back_button())
        return _("No coin has enough for a withdrawal yet. Earn more with the faucet."), kb.as_markup()
    kb.row(back_button())
    return _("Which coin do you want to withdraw?"), kb.as_markup()


async def picker(db: Database, user: User, params: Params) -> tuple[str, InlineKeyboardMarkup]:
    coins = await db.read(withdrawals.withdrawable, user.id, partial(withdrawals.policy_for, params))
    return asset_picker(coins)


async def cmd_withdraw(message: Message, command: CommandObject, user: User, db: Database, params: Params):
    args = words(command)
    if not args:
        text, kb = await picker(db, user, params)
        await message.answer(text, reply_markup=kb)
        return
    if len(args) not in (2, 3):
        await message.answer(usage())
        return
    await make_draft(message, user, db, params, args)


async def cb_menu(query: CallbackQuery, user: User, db: Database, params: Params) -> None:
    message = shown(query)
    text, kb = await picker(db, user, params)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_asset(query: CallbackQuery, callback_data: WdCB, state: FSMContext) -> None:
    message = shown(query)
    await state.set_state(Withdraw.details)
    await state.set_data({"asset": callback_data.asset})
    prompt = await message.answer(
        _("Send the amount and the address (or a label from /addresses), like: 0.001 my-wallet"),
        reply_markup=cancel_markup(),
    )
    await remember(state, prompt)
    await query.answer()


async def on_details_input(message: Message, state: FSMContext, user: User, db: Database, params: Params):
    data = await state.get_data()
    await state.clear()
    parts = text_of(message).split()
    if len(parts) not in (1, 2):
        await message.answer(usage())
        return
    await make_draft(message, user, db, params, [parts[0], data["asset"], *parts[1:]])


async def confirm(
    message: Message,
    user: User,
    wid: int,
    code,
    db: Database,
    settings: Settings,
    params: Params,
    *,
    edit: bool = False,
    quote_id: int | None = None,
):
    """Confirm a quote; ``edit``: the quote message itself becomes the answer (a button tap);
    ``quote_id``: the quote to edit after a typed 2FA code, so no stale Confirm remains."""
    w = await guarded(
        db,
        user.id,
        withdrawals.confirm_withdrawal,
        user.id,
        wid,
        code=code,
        secret_key=settings.secret_key,
        policy_of=partial(withdrawals.policy_for, params),
    )
    if w.replayed:
        text = _("Withdrawal #{id} is already confirmed: {state}.").format(id=w.id, state=state_name(w.state))
    else:
        text = _("Withdrawal #{id} confirmed: {state}. Follow it with /withdrawals.").format(
            id=w.id, state=state_name(w.state)
        )
    if edit:
        await message.edit_text(_quote_done(w) + "\n\n" + text, reply_markup=None)
        return
    await message.answer(text)
    if quote_id is not None and message.bot is not None:  # after a typed 2FA code: the quote too
        with contextlib.suppress(TelegramBadRequest):
            await message.bot.edit_message_text(
                text=_quote_done(w) + "\n\n" + text, chat_id=message.chat.id, message_id=quote_id
            )


def _quote_done(w: withdrawals.Withdrawal) -> str:
    return _("<b>Withdrawal #{id}</b>: {amount} to <code>{address}</code>").format(
        id=w.id, amount=amount(w.arrives, w.asset), address=html.escape(w.address)
    )


async def cb_confirm(
    query: CallbackQuery,
    callback_data: WdCB,
    user: User,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext,
) -> None:
    message = shown(query)
    wid = callback_data.id
    await code_or_run(
        db,
        user.id,
        message,
        state,
        "withdraw",
        lambda: confirm(message, user, wid, None, db, settings, params, edit=True),
        id=wid,
        quote=message.message_id,
    )
    await query.answer()


@on_code("withdraw")
async def confirm_with_code(
    message: Message,
    code: str,
    data: dict[str, Any],
    *,
    user: User,
    db: Database,
    settings: Settings,
    params: Params,
    **_deps: Any,
) -> None:
    quote = data.get("quote")
    await confirm(
        message, user, int(data["id"]), code, db, settings, params, quote_id=int(quote) if quote else None
    )


async def cb_cancel(
    query: CallbackQuery, callback_data: WdCB, user: User, db: Database, params: Params
) -> None:
    """Cancel from the quote (the quote says so, in place) or from /withdrawals (the list is
    drawn again in place, so no stale Cancel button remains)."""
    message = shown(query)
    w = await db.write(withdrawals.cancel_withdrawal, user.id, callback_data.id)
    done = _("Withdrawal #{id} cancelled. Nothing was sent.").format(id=w.id)
    if callback_data.action == "nl":
        text, kb = await withdrawals_screen(db, user, params)
        await message.edit_text(text, reply_markup=kb)
        await query.answer(done)
        return
    await message.edit_text(_quote_done(w) + "\n\n" + done, reply_markup=None)
    await query.answer()


async def withdrawals_screen(
    db: Database, user: User, params: Params
) -> tuple[str, InlineKeyboardMarkup | None]:
    rows = await db.read(withdrawals.list_for_user, user.id)
    if not rows:
        return _("No withdrawals yet."), None
    on_chain = await follow.chain_lines(db, rows, params)  # confirmations, explorer link, hot-wallet wait
    return withdrawals_view(rows, on_chain)


def withdrawals_view(
    rows: list[withdrawals.Withdrawal], on_chain: dict[int, str]
) -> tuple[str, InlineKeyboardMarkup | None]:
    lines = [_("<b>Your withdrawals</b>")]
    kb = InlineKeyboardBuilder()
    cancellable = False
    for w in rows:
        line = f"#{w.id} · {amount(w.arrives, w.asset)} → <code>{html.escape(w.address)}</code> · {state_name(w.state)}"
        if w.txid:
            line += "\n    " + _("Transaction: {txid}").format(txid=f"<code>{html.escape(w.txid)}</code>")
        if w.id in on_chain:
            line += "\n    " + on_chain[w.id]
        if w.state == "failed" and w.reason:
            line += "\n    " + _("Reason: {reason}").format(reason=html.escape(reason_text(w.reason)))
        lines.append(line)
        if w.state in (Withdrawal.REQUESTED, Withdrawal.APPROVED):
            cancellable = True
            kb.button(text=_("Cancel #{id}").format(id=w.id), callback_data=WdCB(action="nl", id=w.id))
    kb.adjust(2)
    return "\n".join(lines), kb.as_markup() if cancellable else None


async def cmd_withdrawals(message: Message, user: User, db: Database, params: Params) -> None:
    text, kb = await withdrawals_screen(db, user, params)
    await message.answer(text, reply_markup=kb)


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_withdraw, Command("withdraw"))
    routes.callback_query.register(cb_menu, MenuCB.filter(F.to == "withdraw"))
    routes.callback_query.register(cb_asset, WdCB.filter((F.action == "asset") & F.asset.in_(ASSET_CODES)))
    routes.message.register(on_details_input, Withdraw.details, NotCommand())
    routes.callback_query.register(cb_confirm, WdCB.filter((F.action == "ok") & (F.id > 0) & (F.id < MAX_ID)))
    routes.callback_query.register(
        cb_cancel, WdCB.filter(F.action.in_({"no", "nl"}) & (F.id > 0) & (F.id < MAX_ID))
    )
    routes.message.register(cmd_withdrawals, Command("withdrawals"))
    return routes
