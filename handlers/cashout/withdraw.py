"""/withdraw and /withdrawals: quote, confirm (with 2FA when on), cancel, follow the state.

``/withdraw AMOUNT ASSET ADDRESS_OR_LABEL`` (or the buttons) makes a draft and shows the fee
and what will arrive; Confirm reserves the amount (pressing it twice makes one withdrawal),
Cancel voids it until the withdrawal is batched.
"""

from __future__ import annotations

import html
from functools import partial
from typing import Any

from aiogram import F, Router
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
    action: str  # ok | no | asset
    id: int = 0
    asset: str = ""


class Withdraw(StatesGroup):
    details = State()


def state_name(state: str) -> str:
    names = {
        "draft": __("not confirmed"),
        "requested": __("waiting for approval"),
        "approved": __("approved"),
        "batched": __("being sent"),
        "sent": __("sent"),
        "failed": __("failed"),
        "cancelled": __("cancelled"),
        "unknown": __("being checked"),
    }
    return str(names.get(state, state))


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
    if p["state"] == "failed":
        text += "\n" + _("The amount is back in your balance.")
    return text


notice_texts.register("withdrawal_state", _state_notice)
labels.register("withdrawal", __("Withdrawal"))
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


def asset_picker() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code in ASSET_CODES:
        kb.button(text=code, callback_data=WdCB(action="asset", asset=code))
    kb.adjust(3)
    kb.row(back_button())
    return kb.as_markup()


async def cmd_withdraw(message: Message, command: CommandObject, user: User, db: Database, params: Params):
    args = words(command)
    if not args:
        await message.answer(_("Which coin do you want to withdraw?"), reply_markup=asset_picker())
        return
    if len(args) not in (2, 3):
        await message.answer(usage())
        return
    await make_draft(message, user, db, params, args)


async def cb_menu(query: CallbackQuery) -> None:
    message = shown(query)
    await message.edit_text(_("Which coin do you want to withdraw?"), reply_markup=asset_picker())
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
    message: Message, user: User, wid: int, code, db: Database, settings: Settings, params: Params
):
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
        await message.answer(
            _("Withdrawal #{id} is already confirmed: {state}.").format(id=w.id, state=state_name(w.state))
        )
        return
    await message.answer(
        _("Withdrawal #{id} confirmed: {state}. Follow it with /withdrawals.").format(
            id=w.id, state=state_name(w.state)
        )
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
        lambda: confirm(message, user, wid, None, db, settings, params),
        id=wid,
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
    await confirm(message, user, int(data["id"]), code, db, settings, params)


async def cb_cancel(query: CallbackQuery, callback_data: WdCB, user: User, db: Database) -> None:
    message = shown(query)
    w = await db.write(withdrawals.cancel_withdrawal, user.id, callback_data.id)
    await query.answer()
    await message.answer(_("Withdrawal #{id} cancelled. Nothing was sent.").format(id=w.id))


async def cmd_withdrawals(message: Message, user: User, db: Database, params: Params) -> None:
    rows = await db.read(withdrawals.list_for_user, user.id)
    if not rows:
        await message.answer(_("No withdrawals yet."))
        return
    on_chain = await follow.chain_lines(db, rows, params)  # confirmations, explorer link, hot-wallet wait
    lines = [_("<b>Your withdrawals</b>")]
    kb = InlineKeyboardBuilder()
    cancellable = False
    for w in rows:
        line = f"#{w.id} · {amount(w.arrives, w.asset)} → <code>{html.escape(w.address)}</code> · {state_name(w.state)}"
        if w.txid:
            line += "\n    " + _("Transaction: {txid}").format(txid=f"<code>{html.escape(w.txid)}</code>")
        if w.id in on_chain:
            line += "\n    " + on_chain[w.id]
        lines.append(line)
        if w.state in ("requested", "approved"):
            cancellable = True
            kb.button(text=_("Cancel #{id}").format(id=w.id), callback_data=WdCB(action="no", id=w.id))
    kb.adjust(2)
    await message.answer("\n".join(lines), reply_markup=kb.as_markup() if cancellable else None)


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_withdraw, Command("withdraw"))
    routes.callback_query.register(cb_menu, MenuCB.filter(F.to == "withdraw"))
    routes.callback_query.register(cb_asset, WdCB.filter((F.action == "asset") & F.asset.in_(ASSET_CODES)))
    routes.message.register(on_details_input, Withdraw.details, NotCommand())
    routes.callback_query.register(cb_confirm, WdCB.filter((F.action == "ok") & (F.id > 0) & (F.id < MAX_ID)))
    routes.callback_query.register(cb_cancel, WdCB.filter((F.action == "no") & (F.id > 0) & (F.id < MAX_ID)))
    routes.message.register(cmd_withdrawals, Command("withdrawals"))
    return routes
