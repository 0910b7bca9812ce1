"""/refer: the user's invite link, a share button and what their friends earned them."""

from __future__ import annotations

from urllib.parse import quote

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)

from core.earn import referrals
from core.identity.users import User
from core.platform.db import Database
from core.platform.params import Params
from handlers.common import labels
from handlers.common import notices as notice_texts
from handlers.common.data import shown
from handlers.common.formatting import percent
from handlers.common.i18n import _, __, amount
from handlers.common.menu import MenuCB, back_button
from handlers.common.private import private_chat_only

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

labels.register(referrals.CODE, __("Referral commission"))
notice_texts.register(
    "referral_earned",
    lambda p: _("🤝 Your invited friends are earning you commission (latest: +{amount}). See /refer.").format(
        amount=amount(int(p["amount"]), p["asset"])
    ),
)


async def refer_view(
    db: Database, user: User, params: Params, bot_username: str
) -> tuple[str, InlineKeyboardMarkup]:
    link = f"https://t.me/{bot_username}?start={referrals.invite_code(user.id)}"
    s = await db.read(referrals.stats, user.id)
    share = params.get("referral.commission")
    lines = [
        _("🤝 <b>Invite friends</b>"),
        _(
            "You earn {share}% of what your friends earn from the faucet, paid by us, up to a daily limit per coin."
        ).format(share=percent(share)),
        "",
        _("Your link: {link}").format(link=link),
        "",
        _("People invited: {count} (active: {active})").format(count=s.invited, active=s.active),
    ]
    if s.earned:
        lines.append(_("Earned from referrals:"))
        lines += [amount(v, a) for a, v in s.earned.items()]
    else:
        lines.append(_("No referral earnings yet."))
    share_url = "https://t.me/share/url?url={u}&text={t}".format(
        u=quote(link, safe=""), t=quote(_("Collect free crypto with me on Dustpan!"), safe="")
    )
    kb = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("📤 Share invite link"), url=share_url)],
            [back_button()],
        ]
    )
    return "\n".join(lines), kb


async def cmd_refer(message: Message, user: User, db: Database, params: Params, bot_username: str) -> None:
    text, kb = await refer_view(db, user, params, bot_username)
    await message.answer(text, reply_markup=kb, link_preview_options=NO_PREVIEW)


async def cb_refer(query: CallbackQuery, user: User, db: Database, params: Params, bot_username: str) -> None:
    message = shown(query)
    text, kb = await refer_view(db, user, params, bot_username)
    await message.edit_text(text, reply_markup=kb, link_preview_options=NO_PREVIEW)
    await query.answer()


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_refer, Command("refer"))
    routes.callback_query.register(cb_refer, MenuCB.filter(F.to == "refer"))
    return routes
