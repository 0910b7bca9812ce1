"""/faucets: the directory of external faucet sites that pay into Dustpan, with ratings."""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.earn import site_payees
from core.earn import sites as faucet_sites
from core.identity.users import User
from core.platform.db import Database
from handlers.common import errors
from handlers.common import notices as notice_texts
from handlers.common.data import shown
from handlers.common.formatting import wait_text
from handlers.common.i18n import _, __, amount
from handlers.common.menu import MAX_ID, MenuCB, back_button

SHOWN = 20

# Our words only: a site's name is its owner's text, and would read as ours here (core.earn.site_payees).
notice_texts.register(
    site_payees.NOTICE,
    lambda p: _(
        "💸 Faucet site payments on {date}: +{amount} (payments: {payments}, sites: {sites}). See /history."
    ).format(
        date=p["date"], amount=amount(int(p["amount"]), p["asset"]), payments=p["payments"], sites=p["sites"]
    ),
)
# Notices queued by an older version, which named the site: told without the name.
notice_texts.register(
    "faucet_api_paid",
    lambda p: _("💸 A faucet site paid you +{amount}. See /history.").format(
        amount=amount(int(p["amount"]), p["asset"])
    ),
)
errors.register("site_already_rated", __("You have already rated this site."))
errors.register("site_bad_rating", __("A rating is 1 to 5 stars."))


class RateCB(CallbackData, prefix="fr"):
    """Rate site ``s`` with ``v`` stars; v=0 asks for the stars."""

    s: int
    v: int


async def directory_view(db: Database) -> tuple[str, InlineKeyboardMarkup]:
    listings = (await db.read(faucet_sites.directory))[:SHOWN]
    kb = InlineKeyboardBuilder()
    if not listings:
        kb.row(back_button())
        return _("No faucet sites are paying right now. Check back later."), kb.as_markup()
    lines = [_("🌐 <b>Faucet sites</b> that pay into your Dustpan wallet (link your address with /address):")]
    for asset in sorted({x.site.asset for x in listings}):
        lines.append(f"\n<b>{asset}</b>")
        for x in (x for x in listings if x.site.asset == asset):
            stars = f" · ⭐{x.rating_sum / x.rating_count:.1f}" if x.rating_count else ""  # float ok: display
            lines.append(
                _("{name}: {reward} every {timer} · health {days} days · paid today {paid}").format(
                    name=html.escape(x.site.name),
                    reward=amount(x.site.reward, asset),
                    timer=wait_text(x.site.timer),
                    days=f"{x.health_tenths // 10}.{x.health_tenths % 10}",
                    paid=x.paid_today,
                )
                + stars
            )
            kb.button(text=f"🔗 {x.site.name}", url=x.site.url)
            kb.button(text=_("⭐ Rate"), callback_data=RateCB(s=x.site.id, v=0))
    kb.adjust(2)
    kb.row(back_button())
    return "\n".join(lines), kb.as_markup()


async def cmd_faucets(message: Message, db: Database) -> None:
    text, kb = await directory_view(db)
    await message.answer(text, reply_markup=kb)


async def cb_faucets(query: CallbackQuery, db: Database) -> None:
    message = shown(query)
    text, kb = await directory_view(db)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_ask_rating(query: CallbackQuery, callback_data: RateCB) -> None:
    message = shown(query)
    kb = InlineKeyboardBuilder()
    for v in range(1, 6):
        kb.button(text="⭐" * v, callback_data=RateCB(s=callback_data.s, v=v))
    kb.adjust(5)
    kb.row(back_button())
    await message.answer(_("How would you rate this site?"), reply_markup=kb.as_markup())
    await query.answer()


async def cb_rate(query: CallbackQuery, callback_data: RateCB, user: User, db: Database) -> None:
    message = shown(query)
    await db.write(faucet_sites.rate_site, user.id, callback_data.s, callback_data.v)
    kb = InlineKeyboardBuilder()  # a way back: the directory, or the menu
    kb.button(text=_("🌐 Faucet sites"), callback_data=MenuCB(to="faucets"))
    kb.row(back_button())
    await message.edit_text(_("Thanks for rating!"), reply_markup=kb.as_markup())
    await query.answer()


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_faucets, Command("faucets"))
    routes.callback_query.register(cb_faucets, MenuCB.filter(F.to == "faucets"))
    routes.callback_query.register(cb_ask_rating, RateCB.filter((F.s > 0) & (F.s < MAX_ID) & (F.v == 0)))
    routes.callback_query.register(
        cb_rate, RateCB.filter((F.s > 0) & (F.s < MAX_ID) & (F.v >= 1) & (F.v <= 5))
    )
    return routes
