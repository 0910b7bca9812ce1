"""Admin side of cash-out: /payouts (approve or reject requests; batches in doubt), /paid and
/failed for manual batches and for batches whose outcome a payout service left unknown.

Approving and rejecting need the admin's 2FA code when the admin has 2FA on, checked in the
action's transaction; whoever sends the code must still be an admin. /paid and /failed are
guarded like every admin command (handlers.admin.codes). A batch in doubt is failed only by an
admin, with the evidence that nothing was paid as the reason (core.cashout.payouts).
"""

from __future__ import annotations

import contextlib
import html
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.cashout import payouts, withdrawals
from core.config import Settings
from core.identity.users import User
from core.platform.db import Database
from core.platform.params import Params
from handlers.admin.codes import still_admin
from handlers.common import errors
from handlers.common import notices as notice_texts
from handlers.common.args import args_of, row_id
from handlers.common.data import AdminIds, shown
from handlers.common.filters import IsAdmin, IsAdminQuery
from handlers.common.formatting import withdrawals_count
from handlers.common.i18n import _, __, amount, get_i18n
from handlers.common.menu import MAX_ID
from handlers.security.twofa import code_or_run, guarded, on_code, with_code

errors.register("not_awaiting_approval", __("Withdrawal #{id} is not waiting for approval."))
errors.register("no_such_batch", __("There is no batch {id}."))
errors.register("batch_not_manual", __("Batch {id} is not waiting to be settled by hand."))
errors.register(
    "evidence_needed",
    __("Say how you know: /failed {id} EVIDENCE (what shows that nothing was paid), or /paid {id} TXID."),
)
errors.register(
    "backend_cannot_send", __("{value} cannot send {asset}. For {asset} choose one of: {choices}.")
)


def batch_caption(batch_id: int, asset: str, count: int) -> str:
    """The caption of a manual payout batch's CSV (jobs.payout_backends.ManualBackend), in English."""
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale("en"):  # admins' working language
        return _("Payout batch {id} ({asset}, {count} items): /paid {id} TXID or /failed {id} REASON").format(
            id=batch_id, asset=asset, count=count
        )


def _in_doubt_notice(p: dict) -> str:
    return _(
        "⚠️ Payout batch {id} ({asset}, {backend}, {withdrawals}): its payment was not found. "
        "It stays unknown and is looked up again; nothing is refunded. If you find its transaction: "
        "/paid {id} TXID. If you are sure nothing was paid: /failed {id} EVIDENCE."
    ).format(
        id=p["id"], asset=p["asset"], backend=p["backend"], withdrawals=withdrawals_count(int(p["count"]))
    )


notice_texts.register("payout_in_doubt", _in_doubt_notice)


class PayCB(CallbackData, prefix="po"):
    action: str  # yes | no
    id: int


def in_doubt_text(batches: list[payouts.Batch]) -> str:
    lines = [_("<b>Batches in doubt</b> (/paid BATCH TXID or /failed BATCH EVIDENCE)")]
    lines += [
        _("Batch {id} · {asset} · {backend} · {withdrawals} · since {since}").format(
            id=b.id,
            asset=b.asset,
            backend=b.backend,
            withdrawals=withdrawals_count(len(b.items)),
            since=f"{b.created_at:%Y-%m-%d %H:%M} UTC",
        )
        for b in batches
    ]
    return "\n".join(lines)


def approval_view(rows: list[withdrawals.Withdrawal]) -> tuple[str, InlineKeyboardMarkup | None]:
    if not rows:
        return _("No withdrawals are waiting for approval."), None
    kb = InlineKeyboardBuilder()
    lines = [_("<b>Waiting for approval</b>")]
    for w in rows:
        lines.append(
            _("#{id} · user {user} · {amount} → <code>{address}</code>").format(
                id=w.id, user=w.user_id, amount=amount(w.amount, w.asset), address=html.escape(w.address)
            )
        )
        kb.button(text=_("Approve #{id}").format(id=w.id), callback_data=PayCB(action="yes", id=w.id))
        kb.button(text=_("Reject #{id}").format(id=w.id), callback_data=PayCB(action="no", id=w.id))
    kb.adjust(2)
    return "\n".join(lines), kb.as_markup()


async def cmd_payouts(message: Message, db: Database) -> None:
    doubt = await db.read(payouts.batches_in, ("unknown",))
    if doubt:
        await message.answer(in_doubt_text(doubt[:20]))
    text, kb = approval_view(await db.read(withdrawals.awaiting_approval))
    await message.answer(text, reply_markup=kb)


async def _done(message: Message, db: Database, text: str, edit: bool, list_id: int | None = None) -> None:
    """After an action: from a button, the list is drawn again in place with the outcome on top
    (no stale button remains); after a typed 2FA code, a reply, and the list (``list_id``) is
    drawn again too."""
    listing, kb = approval_view(await db.read(withdrawals.awaiting_approval))
    if edit:
        await message.edit_text(text + "\n\n" + listing, reply_markup=kb)
        return
    await message.answer(text)
    if list_id is not None and message.bot is not None:
        with contextlib.suppress(TelegramBadRequest):
            await message.bot.edit_message_text(
                text=listing, chat_id=message.chat.id, message_id=list_id, reply_markup=kb
            )


def _list_id(data: dict[str, Any]) -> int | None:
    found = data.get("list")
    return int(found) if found else None


async def approve(
    message: Message,
    admin_id: int,
    wid: int,
    code: str | None,
    db: Database,
    settings: Settings,
    params: Params,
    *,
    edit: bool = False,
    list_id: int | None = None,
) -> None:
    w = await guarded(
        db,
        admin_id,
        withdrawals.approve,
        admin_id,
        wid,
        code=code,
        secret_key=settings.secret_key,
        max_failures=params.get("twofa.max_failures"),
    )
    await _done(message, db, _("Withdrawal #{id} approved.").format(id=w.id), edit, list_id)


async def cb_approve(
    query: CallbackQuery,
    callback_data: PayCB,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext,
) -> None:
    message = shown(query)
    admin_id, wid = query.from_user.id, callback_data.id
    await code_or_run(
        db,
        admin_id,
        message,
        state,
        "approve",
        lambda: approve(message, admin_id, wid, None, db, settings, params, edit=True),
        confirming=_("approve withdrawal #{id}").format(id=wid),
        id=wid,
        list=message.message_id,
    )
    await query.answer()


@on_code("approve")
async def approve_with_code(
    message: Message,
    code: str,
    data: dict[str, Any],
    *,
    db: Database,
    settings: Settings,
    params: Params,
    user: User,
    admin_ids: AdminIds,
    **_deps: Any,
) -> None:
    if await still_admin(message, admin_ids):
        await approve(message, user.id, int(data["id"]), code, db, settings, params, list_id=_list_id(data))


async def reject(
    message: Message,
    admin_id: int,
    wid: int,
    code: str | None,
    db: Database,
    settings: Settings,
    params: Params,
    *,
    edit: bool = False,
    list_id: int | None = None,
) -> None:
    w = await with_code(
        db,
        admin_id,
        code,
        settings,
        params,
        withdrawals.reject,
        admin_id=admin_id,
        wid=wid,
        reason=withdrawals.REJECTED,
    )
    await _done(
        message,
        db,
        _("Withdrawal #{id} rejected; the amount is back with the user.").format(id=w.id),
        edit,
        list_id,
    )


async def cb_reject(
    query: CallbackQuery,
    callback_data: PayCB,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext,
) -> None:
    message = shown(query)
    admin_id, wid = query.from_user.id, callback_data.id
    await code_or_run(
        db,
        admin_id,
        message,
        state,
        "reject",
        lambda: reject(message, admin_id, wid, None, db, settings, params, edit=True),
        confirming=_("reject withdrawal #{id}").format(id=wid),
        id=wid,
        list=message.message_id,
    )
    await query.answer()


@on_code("reject")
async def reject_with_code(
    message: Message,
    code: str,
    data: dict[str, Any],
    *,
    db: Database,
    settings: Settings,
    params: Params,
    user: User,
    admin_ids: AdminIds,
    **_deps: Any,
) -> None:
    if await still_admin(message, admin_ids):
        await reject(message, user.id, int(data["id"]), code, db, settings, params, list_id=_list_id(data))


async def cmd_paid(message: Message, command: CommandObject, user: User, db: Database) -> None:
    args = args_of(command, 2)
    batch = row_id(args[0]) if args else None
    if args is None or batch is None:
        await message.answer(_("Usage: /paid BATCH TXID"))
        return
    counts = await db.write(payouts.settle_manual, user.id, batch, txid=args[1][:128])
    await message.answer(
        _("Batch {id}: {withdrawals} marked sent.").format(
            id=batch, withdrawals=withdrawals_count(counts.get("sent", 0))
        )
    )


async def cmd_failed(message: Message, command: CommandObject, user: User, db: Database) -> None:
    args = args_of(command, 2)
    batch = row_id(args[0]) if args else None
    if args is None or batch is None:
        await message.answer(
            _(
                "Usage: /failed BATCH REASON\n"
                "For a batch in doubt the reason is your evidence that nothing was paid."
            )
        )
        return
    counts = await db.write(payouts.settle_manual, user.id, batch, reason=args[1][:200])
    await message.answer(
        _("Batch {id}: {withdrawals} marked failed; their amounts are back with the users.").format(
            id=batch, withdrawals=withdrawals_count(counts.get("failed", 0))
        )
    )


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.filter(IsAdmin())
    routes.message.register(cmd_payouts, Command("payouts"))
    routes.callback_query.register(
        cb_approve, PayCB.filter((F.action == "yes") & (F.id > 0) & (F.id < MAX_ID)), IsAdminQuery()
    )
    routes.callback_query.register(
        cb_reject, PayCB.filter((F.action == "no") & (F.id > 0) & (F.id < MAX_ID)), IsAdminQuery()
    )
    routes.message.register(cmd_paid, Command("paid"))
    routes.message.register(cmd_failed, Command("failed"))
    return routes
