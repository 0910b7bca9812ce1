"""/campaigns: the advertiser's campaigns with views paid, unique viewers, visits started,
completion rate, spend and budget left, and Pause, Resume, Top up and Cancel buttons;
``/campaigns ID url|title|description NEW`` changes a live ad (a new URL or title goes back to
review, core.earn.ad_campaigns.edit)."""

from __future__ import annotations

import html

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.earn import ad_campaigns, ads
from core.identity.users import User
from core.platform.db import Database
from handlers.common import errors
from handlers.common.data import AdminIds, shown
from handlers.common.formatting import percent
from handlers.common.i18n import _, __, amount
from handlers.common.keys import update_key
from handlers.common.menu import MAX_ID, back_button
from handlers.common.private import private_chat_only
from handlers.earn.ad_review import notify_admins
from handlers.earn.advertise import CampCB

errors.register("ad_not_active", __("Campaign #{id} is not running."))
errors.register("ad_not_paused", __("Campaign #{id} is not paused."))
errors.register("ad_not_live", __("Campaign #{id} cannot be changed now."))
errors.register("ad_bad_field", __("You can change the url, title or description."))

TOP_UPS = (10, 100, 1000)
STATUS = {
    "review": __("in review"),
    "active": __("running"),
    "paused": __("paused"),
    "rejected": __("rejected"),
    "cancelled": __("cancelled"),
}


def stats_text(st: ad_campaigns.Stats) -> str:
    c = st.campaign
    lines = [
        _("<b>#{id} {title}</b> · {status}").format(
            id=c.id, title=html.escape(c.title), status=STATUS.get(c.status, c.status)
        ),
        _(
            "Views paid: {paid} · unique viewers: {viewers} · visits started: {visits} · completion: {rate}%"
        ).format(paid=st.paid, viewers=st.viewers, visits=st.visits, rate=percent(st.completion_bp)),
        _("Spent: {spent} · budget left: {left} ({views} views)").format(
            spent=amount(st.spent, c.asset), left=amount(st.left, c.asset), views=st.views_left
        ),
    ]
    if st.held:
        lines.append(_("Join rewards on hold: {held}").format(held=st.held))
    if c.reason:
        lines.append(_("Rejected: {reason}").format(reason=html.escape(c.reason)))
    return "\n".join(lines)


def campaigns_view(rows: list[ad_campaigns.Stats]) -> tuple[str, InlineKeyboardMarkup]:
    if not rows:
        return _("You have no campaigns yet. /advertise starts one."), InlineKeyboardMarkup(
            inline_keyboard=[[back_button()]]
        )
    kb: list[list[InlineKeyboardButton]] = []
    for st in rows:
        c = st.campaign
        row: list[InlineKeyboardButton] = []
        if c.status == ads.ACTIVE:
            row.append(
                InlineKeyboardButton(
                    text=_("⏸ Pause #{id}").format(id=c.id),
                    callback_data=CampCB(action="pause", id=c.id).pack(),
                )
            )
        if c.status == ads.PAUSED:
            row.append(
                InlineKeyboardButton(
                    text=_("▶️ Resume #{id}").format(id=c.id),
                    callback_data=CampCB(action="resume", id=c.id).pack(),
                )
            )
        if c.status in (ads.ACTIVE, ads.PAUSED):
            row.append(
                InlineKeyboardButton(
                    text=_("➕ Top up #{id}").format(id=c.id),
                    callback_data=CampCB(action="topup", id=c.id).pack(),
                )
            )
        if c.status in (ads.ACTIVE, ads.PAUSED, ads.REVIEW):
            row.append(
                InlineKeyboardButton(
                    text=_("✖️ Cancel #{id}").format(id=c.id),
                    callback_data=CampCB(action="cancel", id=c.id).pack(),
                )
            )
        if row:
            kb.append(row)
    kb.append([back_button()])
    text = "\n\n".join([_("📊 <b>Your campaigns</b>")] + [stats_text(st) for st in rows])
    text += "\n\n" + _(
        "Change a live ad: /campaigns ID url|title|description NEW (a new url or title is reviewed again)."
    )
    return text, InlineKeyboardMarkup(inline_keyboard=kb)


async def cmd_campaigns(
    message: Message, command: CommandObject, user: User, db: Database, bot: Bot, admin_ids: AdminIds
) -> None:
    words = (command.args or "").split(maxsplit=2)
    if words:
        cid = int(words[0].lstrip("#")) if words[0].lstrip("#").isdigit() and len(words[0]) < 16 else None
        if cid is None or len(words) < 3:
            await message.answer(_("Usage: /campaigns ID url|title|description NEW"))
            return
        c = await db.write(ad_campaigns.edit, user.id, cid, words[1].lower(), words[2])
        if c.status == ads.REVIEW:
            await message.answer(
                _("Campaign #{id} changed; it is paused until an admin reviews it again.").format(id=c.id)
            )
            await notify_admins(bot, admin_ids, c)
        else:
            await message.answer(_("Campaign #{id} changed.").format(id=c.id))
        return
    text, kb = campaigns_view(await db.read(ad_campaigns.campaigns_of, user.id))
    await message.answer(text, reply_markup=kb)


async def cb_action(query: CallbackQuery, callback_data: CampCB, user: User, db: Database) -> None:
    message = shown(query)
    action, cid, note = callback_data.action, callback_data.id, None
    if action == "pause":
        await db.write(ad_campaigns.pause, user.id, cid)
    elif action == "resume":
        await db.write(ad_campaigns.resume, user.id, cid)
    elif action == "cancel":
        back = await db.write(ad_campaigns.cancel, user.id, cid)
        c = await db.read(ads.get_campaign, cid)
        note = _("Campaign #{id} cancelled; {amount} is back in your wallet.").format(
            id=cid, amount=amount(back, c.asset)
        )
    elif action == "topup" and callback_data.n == 0:
        c = await db.read(ads.get_campaign, cid)
        picks = InlineKeyboardBuilder()
        for n in TOP_UPS:
            picks.button(
                text=_("+{n} views · {cost}").format(n=n, cost=amount(n * c.unit, c.asset)),
                callback_data=CampCB(action="topup", id=cid, n=n),
            )
        picks.adjust(1)
        await message.answer(
            _("How many views do you add to #{id}? They are paid at once.").format(id=cid),
            reply_markup=picks.as_markup(),
        )
        await query.answer()
        return
    elif action == "topup":
        c = await db.write(
            ad_campaigns.top_up, user.id, cid, callback_data.n, key=update_key(query, "ad", "topup")
        )
        note = _("Campaign #{id} now has {views} views in all.").format(id=cid, views=c.views)
    text, kb = campaigns_view(await db.read(ad_campaigns.campaigns_of, user.id))
    if message.text and message.text.startswith("📊"):
        await message.edit_text(text, reply_markup=kb)
    else:
        await message.answer(text, reply_markup=kb)
    await query.answer(note)


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_campaigns, Command("campaigns"))
    valid = (F.id > 0) & (F.id < MAX_ID)
    routes.callback_query.register(
        cb_action,
        CampCB.filter(F.action.in_(("pause", "resume", "cancel", "topup")) & valid & F.n.in_((0, *TOP_UPS))),
    )
    return routes
