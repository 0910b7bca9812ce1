"""Ad moderation, for admins: /review (the queue), Approve and Reject buttons, /adreject and
/invalidview.

A campaign sent to review (confirmed, or a live one whose URL or title changed) reaches every
admin as a message with Approve and Reject buttons (``notify_admins``); /review lists the
queue with the same buttons. Approving and rejecting take the admin's 2FA code in their own
transaction when 2FA is on, like the payout buttons (handlers.cashout.payouts); Reject asks
for the reason the advertiser will read. /adreject ID REASON and /invalidview VIEW are
guarded like every admin command (handlers.admin.codes).
"""

from __future__ import annotations

import html
import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from core.config import Settings
from core.earn import ad_campaigns, ads
from core.identity.users import User
from core.platform.db import Database
from core.platform.params import Params
from handlers.admin.codes import still_admin
from handlers.common import errors
from handlers.common import notices as notice_texts
from handlers.common.args import args_of, row_id
from handlers.common.data import AdminIds, shown, text_of
from handlers.common.filters import IsAdmin, IsAdminQuery, NotCommand
from handlers.common.i18n import _, __, amount
from handlers.common.menu import MAX_ID
from handlers.security.twofa import code_or_run, on_code, with_code

log = logging.getLogger(__name__)

errors.register("ad_not_in_review", __("Campaign #{id} is not waiting for review."))
errors.register("ad_reason_needed", __("Say why: the advertiser reads the reason."))
errors.register("ad_view_not_paid", __("View #{id} is not a paid or held view."))
notice_texts.register(
    "ad_approved",
    lambda p: _('✅ Your ad #{id} "{title}" was approved and is running. /campaigns').format(
        id=p["id"], title=html.escape(str(p["title"]))
    ),
)
notice_texts.register(
    "ad_rejected",
    lambda p: _(
        '❌ Your ad #{id} "{title}" was rejected: {reason}\nIts budget is back in your wallet.'
    ).format(id=p["id"], title=html.escape(str(p["title"])), reason=html.escape(str(p["reason"]))),
)


class ReviewCB(CallbackData, prefix="rv"):
    action: str  # ok | no
    id: int


class Rejecting(StatesGroup):
    reason = State()


def review_text(c: ads.Campaign) -> str:
    target = c.url if c.kind == ads.VISIT else c.channel
    lines = [
        _("📝 <b>Ad #{id} to review</b> (by user {user})").format(id=c.id, user=c.advertiser_id),
        f"<b>{html.escape(c.title)}</b>",
    ]
    if c.description:
        lines.append(html.escape(c.description))
    lines.append(html.escape(target or ""))
    lines.append(
        _("{views} views × {price} · {seconds} s · language: {lang}").format(
            views=c.views, price=amount(c.price, c.asset), seconds=c.duration, lang=c.lang or _("any")
        )
    )
    return "\n".join(lines)


def review_markup(c: ads.Campaign) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Approve #{id}").format(id=c.id),
                    callback_data=ReviewCB(action="ok", id=c.id).pack(),
                ),
                InlineKeyboardButton(
                    text=_("Reject #{id}").format(id=c.id),
                    callback_data=ReviewCB(action="no", id=c.id).pack(),
                ),
            ]
        ]
    )


async def notify_admins(bot: Bot, admin_ids: AdminIds, c: ads.Campaign) -> None:
    """Each admin gets the campaign with its buttons; one who cannot be reached sees it in /review."""
    for admin_id in sorted(admin_ids):
        try:
            await bot.send_message(admin_id, review_text(c), reply_markup=review_markup(c))
        except TelegramAPIError:
            log.info("admin %s could not be told of ad #%s; it waits in /review", admin_id, c.id)


async def cmd_review(message: Message, command: CommandObject, db: Database) -> None:
    cid = row_id(command.args) if command.args else None
    if cid is not None:  # /review ID: that campaign's latest views, for /invalidview
        lines = [_("<b>Latest views of ad #{id}</b> (/invalidview VIEW)").format(id=cid)]
        lines += [
            f"#{v.id} · {v.user_id} · {v.status}{' (' + v.reason + ')' if v.reason else ''}"
            f" · {v.started_at:%Y-%m-%d %H:%M:%S} UTC"
            for v in await db.read(ad_campaigns.views_of, cid)
        ]
        await message.answer("\n".join(lines))
        return
    queue = await db.read(ad_campaigns.review_queue)
    if not queue:
        await message.answer(_("No ads are waiting for review."))
        return
    for c in queue:
        await message.answer(review_text(c), reply_markup=review_markup(c))


async def approve(
    message: Message,
    admin_id: int,
    cid: int,
    code: str | None,
    db: Database,
    settings: Settings,
    params: Params,
) -> None:
    c = await with_code(
        db,
        admin_id,
        code,
        settings,
        params,
        ad_campaigns.approve,
        admin_id=admin_id,
        campaign_id=cid,
    )
    await message.answer(_("Ad #{id} approved: it is running.").format(id=c.id))


async def cb_approve(
    query: CallbackQuery,
    callback_data: ReviewCB,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext,
) -> None:
    message = shown(query)
    admin_id, cid = query.from_user.id, callback_data.id
    await code_or_run(
        db,
        admin_id,
        message,
        state,
        "ad_approve",
        lambda: approve(message, admin_id, cid, None, db, settings, params),
        confirming=_("approve ad #{id}").format(id=cid),
        id=cid,
    )
    await query.answer()


@on_code("ad_approve")
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
        await approve(message, user.id, int(data["id"]), code, db, settings, params)


async def reject(
    message: Message,
    admin_id: int,
    cid: int,
    reason: str,
    code: str | None,
    db: Database,
    settings: Settings,
    params: Params,
) -> None:
    c = await with_code(
        db,
        admin_id,
        code,
        settings,
        params,
        ad_campaigns.reject,
        admin_id=admin_id,
        campaign_id=cid,
        reason=reason,
    )
    await message.answer(_("Ad #{id} rejected; the advertiser was told why.").format(id=c.id))


async def cb_reject(query: CallbackQuery, callback_data: ReviewCB, state: FSMContext) -> None:
    message = shown(query)
    await state.set_state(Rejecting.reason)
    await state.set_data({"id": callback_data.id})
    await message.answer(
        _("Why is ad #{id} rejected? Send the reason (the advertiser reads it).").format(id=callback_data.id)
    )
    await query.answer()


async def on_reason_input(
    message: Message,
    state: FSMContext,
    user: User,
    db: Database,
    settings: Settings,
    params: Params,
    admin_ids: AdminIds,
) -> None:
    data = await state.get_data()
    await state.clear()
    if not await still_admin(message, admin_ids):
        return
    cid, reason = int(data["id"]), text_of(message)[:200]
    await code_or_run(
        db,
        user.id,
        message,
        state,
        "ad_reject",
        lambda: reject(message, user.id, cid, reason, None, db, settings, params),
        confirming=_("reject ad #{id}").format(id=cid),
        id=cid,
        reason=reason,
    )


@on_code("ad_reject")
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
        await reject(message, user.id, int(data["id"]), str(data["reason"]), code, db, settings, params)


async def cmd_adreject(message: Message, command: CommandObject, user: User, db: Database) -> None:
    args = args_of(command, 2)
    cid = row_id(args[0]) if args else None
    if args is None or cid is None:
        await message.answer(_("Usage: /adreject ID REASON"))
        return
    c = await db.write(ad_campaigns.reject, user.id, cid, args[1])
    await message.answer(_("Ad #{id} rejected; the advertiser was told why.").format(id=c.id))


async def cmd_invalidview(message: Message, command: CommandObject, user: User, db: Database) -> None:
    view = row_id(command.args)
    if view is None:
        await message.answer(_("Usage: /invalidview VIEW (the view's number)"))
        return
    got = await db.write(ad_campaigns.invalidate, user.id, view)
    if got.taken_back:
        text = _("View #{view} is invalid: the reward was still held and went back to ad #{id}.")
    else:
        text = _("View #{view} is invalid: its cost went back to ad #{id}; the viewer had been paid already.")
    await message.answer(text.format(view=got.view_id, id=got.campaign_id))


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.filter(IsAdmin())
    routes.message.register(cmd_review, Command("review"))
    routes.message.register(cmd_adreject, Command("adreject"))
    routes.message.register(cmd_invalidview, Command("invalidview"))
    routes.message.register(on_reason_input, Rejecting.reason, NotCommand())
    valid = (F.id > 0) & (F.id < MAX_ID)
    routes.callback_query.register(cb_approve, ReviewCB.filter((F.action == "ok") & valid), IsAdminQuery())
    routes.callback_query.register(cb_reject, ReviewCB.filter((F.action == "no") & valid), IsAdminQuery())
    return routes
