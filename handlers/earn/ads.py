"""/ads: paid ads one at a time, like a feed (menu "📢 Ads").

Each ad shows its title, description, reward and duration with Visit (a URL button to the
one-time tracking link ``PUBLIC_URL/go/<token>``, handlers.earn.tracking), Claim, Skip and
Report. A join task shows Join (the channel's t.me link) instead of Visit; its Claim asks
Telegram (getChatMember) whether the viewer joined. Claim shows the faucet's picture puzzle
(core.identity.captcha); a right answer pays, or reserves a join reward (core.earn.ads).
"""

from __future__ import annotations

import asyncio
import html
from functools import lru_cache

from aiogram import Bot, F, Router
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)

from core.config import Settings
from core.earn import ad_tokens, ads
from core.identity import captcha_image
from core.identity.users import User
from core.platform.db import Database
from core.platform.params import Params
from handlers.common import errors, labels
from handlers.common import notices as notice_texts
from handlers.common.data import AdminIds, shown
from handlers.common.formatting import wait_text
from handlers.common.i18n import _, __, amount
from handlers.common.menu import MAX_ID, MenuCB, back_button
from handlers.common.private import private_chat_only


class AdCB(CallbackData, prefix="ad"):
    """An action on the ad of campaign ``c``: claim | skip | report | next."""

    action: str
    c: int


class AdCaptchaCB(CallbackData, prefix="aq"):
    """An answer to an ads puzzle: challenge ``c``, option ``o``; ``j``: the join campaign (0: a visit)."""

    c: int
    o: int
    j: int = 0


ACTIONS = ("claim", "skip", "report", "next")

errors.register("ad_unknown", __("This ad does not exist (any more). Send /ads for the next one."))
errors.register("ad_own", __("This is your own ad: it pays other people."))
errors.register("ad_paused", __("This ad is paused: it pays nothing right now. Send /ads for another one."))
errors.register("ad_over", __("This ad has ended. Send /ads for another one."))
errors.register("ad_budget_out", __("This ad's budget is spent. Send /ads for another one."))
errors.register("ad_not_visited", __("Open the ad with its Visit button first, then tap Claim."))
errors.register(
    "ad_too_early",
    lambda e: _("Too early: stay on the site {seconds} s more, then tap Claim.").format(
        seconds=e.params["seconds"]
    ),
)
errors.register(
    "ad_already",
    lambda e: (
        _("You were already paid for this ad. You can see it again in {time}.").format(
            time=wait_text(int(str(e.params.get("seconds") or 0)))
        )
        if e.params.get("seconds")
        else _("You were already paid for this ad.")
    ),
)
errors.register(
    "ad_daily_cap",
    lambda e: _("You reached today's limit of paid ads. Look again in {time}.").format(
        time=wait_text(int(str(e.params["seconds"])))
    ),
)
errors.register(
    "ad_too_new",
    lambda e: _("Your account is too new for paid ads. Look again in {time}.").format(
        time=wait_text(int(str(e.params["seconds"])))
    ),
)
errors.register(
    "ad_not_joined",
    lambda e: _("You are not a member of {channel} yet. Join it, then tap Claim.").format(
        channel=e.params["channel"]
    ),
)
errors.register(
    "captcha_wait",
    lambda e: _("Wrong answers need a short pause. New puzzle in {time}.").format(
        time=wait_text(int(str(e.params["seconds"])))
    ),
    kind=ads.AdError,
)
errors.register(
    "challenge_unknown",
    __("This puzzle is not yours or no longer exists. Tap Claim again."),
    kind=ads.AdError,
)
errors.register(
    "challenge_used", __("This puzzle was already answered. Tap Claim for a new one."), kind=ads.AdError
)
errors.register(
    "challenge_expired", __("This puzzle has expired. Tap Claim for a new one."), kind=ads.AdError
)
errors.register(
    "challenge_replaced",
    __("A newer puzzle replaced this one. Answer the latest, or tap Claim."),
    kind=ads.AdError,
)
labels.register(ads.VIEW_CODE, __("Ad reward"))
labels.register(ads.FEE_CODE, __("Ad fee"))
labels.register(ads.REFUND_CODE, __("Ad budget returned"))
notice_texts.register(
    "ad_join_paid",
    lambda p: _('✅ You stayed in the channel: {amount} for "{title}" is in your wallet.').format(
        amount=amount(int(p["amount"]), str(p["asset"])), title=html.escape(str(p["title"]))
    ),
)
notice_texts.register(
    "ad_join_left",
    lambda p: _(
        '❌ You left {channel} before the hold ended, so the {amount} reserved for "{title}" went back to the advertiser.'
    ).format(
        channel=html.escape(str(p["channel"])),
        amount=amount(int(p["amount"]), str(p["asset"])),
        title=html.escape(str(p["title"])),
    ),
)
notice_texts.register(
    "ad_reported",
    lambda p: _('🚩 Ad #{id} "{title}" was reported by user {user}. /review').format(
        id=p["id"], title=html.escape(str(p["title"])), user=p["user"]
    ),
)


def base_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.web_host}:{settings.web_port}").rstrip("/")


def ad_text(c: ads.Campaign, s: ads.Settings) -> str:
    lines = [f"📢 <b>{html.escape(c.title)}</b>"]
    if c.description:
        lines.append(html.escape(c.description))
    lines.append("")
    if c.kind == ads.JOIN:
        lines.append(
            _("Join {channel} and stay {time} to earn {amount}.").format(
                channel=html.escape(c.channel or ""),
                time=wait_text(s.join_hold),
                amount=amount(c.price, c.asset),
            )
        )
    else:
        lines.append(
            _("Reward: {amount} · stay {seconds} s on the site, then tap Claim.").format(
                amount=amount(c.price, c.asset), seconds=c.duration
            )
        )
    return "\n".join(lines)


def ad_markup(c: ads.Campaign, link: str) -> InlineKeyboardMarkup:
    first = (
        InlineKeyboardButton(text=_("➕ Join {channel}").format(channel=c.channel), url=link)
        if c.kind == ads.JOIN
        else InlineKeyboardButton(text=_("🔗 Visit"), url=link)
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                first,
                InlineKeyboardButton(text=_("✅ Claim"), callback_data=AdCB(action="claim", c=c.id).pack()),
            ],
            [
                InlineKeyboardButton(text=_("⏭ Skip"), callback_data=AdCB(action="skip", c=c.id).pack()),
                InlineKeyboardButton(text=_("🚩 Report"), callback_data=AdCB(action="report", c=c.id).pack()),
            ],
            [back_button()],
        ]
    )


def no_ads_text(got: ads.NoAds) -> str:
    if got.reason == "daily_cap":
        return _("You reached today's limit of paid ads. Look again in {time}.").format(
            time=wait_text(got.wait_seconds)
        )
    if got.reason == "too_new":
        return _("Your account is too new for paid ads. Look again in {time}.").format(
            time=wait_text(got.wait_seconds)
        )
    if got.wait_seconds > 0:
        return _("📢 No ads right now. Look again in {time}.").format(time=wait_text(got.wait_seconds))
    return _("📢 No ads right now. Look again in an hour: new campaigns start all the time.")


async def feed_view(
    db: Database, params: Params, settings: Settings, user: User, locale: str, after: int = 0
) -> tuple[str, InlineKeyboardMarkup]:
    s = ads.settings_for(params)
    got = await db.read(ads.next_ad, user.id, locale, s, after=after)
    if isinstance(got, ads.NoAds):
        return no_ads_text(got), InlineKeyboardMarkup(inline_keyboard=[[back_button()]])
    c = got.campaign
    if c.kind == ads.JOIN:
        link = f"https://t.me/{(c.channel or '').lstrip('@')}"
    else:
        link = f"{base_url(settings)}/go/{ad_tokens.make(settings.secret_key, c.id, user.id, got.issued)}"
    return ad_text(c, s), ad_markup(c, link)


async def cmd_ads(
    message: Message, db: Database, params: Params, settings: Settings, user: User, locale: str
) -> None:
    text, kb = await feed_view(db, params, settings, user, locale)
    await message.answer(text, reply_markup=kb)


async def cb_feed(
    query: CallbackQuery, db: Database, params: Params, settings: Settings, user: User, locale: str
) -> None:
    await show(shown(query), *await feed_view(db, params, settings, user, locale))
    await query.answer()


async def cb_next(
    query: CallbackQuery,
    callback_data: AdCB,
    db: Database,
    params: Params,
    settings: Settings,
    user: User,
    locale: str,
    admin_ids: AdminIds,
) -> None:
    note = None
    if callback_data.action == "report":
        await db.write(ads.report, user.id, callback_data.c, tuple(admin_ids))
        note = _("Thanks: an admin will look at this ad.")
    after = callback_data.c if callback_data.action in ("skip", "report") else 0
    await show(shown(query), *await feed_view(db, params, settings, user, locale, after))
    await query.answer(note)


async def show(message: Message, text: str, markup: InlineKeyboardMarkup) -> None:
    """On the ad (text), edit it; under a puzzle (a photo), send the ad as a new message."""
    if message.photo:
        await message.answer(text, reply_markup=markup)
    else:
        await message.edit_text(text, reply_markup=markup)


async def chat_status(bot: Bot, chat: str, user_id: int) -> str | None:
    """``user_id``'s status in ``chat`` as getChatMember says it; None when Telegram will not say
    (an unknown chat, one the bot cannot see)."""
    try:
        status = (await bot.get_chat_member(chat, user_id)).status
        return str(getattr(status, "value", status))  # aiogram's ChatMemberStatus, or a plain string
    except ClientDecodeError as err:  # a kind of member this aiogram cannot read: its status still is
        result = err.data.get("result") if isinstance(err.data, dict) else None
        raw = result.get("status") if isinstance(result, dict) else None
        return str(raw) if raw else None
    except TelegramAPIError:
        return None


async def is_member(bot: Bot, channel: str, user_id: int) -> bool:
    """Whether ``user_id`` is in ``channel`` now (restricted members count: they joined)."""
    return await chat_status(bot, channel, user_id) in ("creator", "administrator", "member", "restricted")


async def cb_claim(
    query: CallbackQuery, callback_data: AdCB, db: Database, params: Params, user: User, bot: Bot
) -> None:
    message = shown(query)
    member = None
    c = await db.read(ads.get_campaign, callback_data.c)
    if c.kind == ads.JOIN:
        member = await is_member(bot, c.channel or "", user.id)
    got = await db.write(ads.begin_claim, user.id, c.id, ads.settings_for(params), member=member)
    await show_puzzle(message, got)
    await query.answer()


async def show_puzzle(message: Message, got: ads.Challenge) -> None:
    assert got.target is not None, "a picture puzzle has a target"
    png = await asyncio.to_thread(captcha_image.render, got.options, got.target)
    photo = BufferedInputFile(png, filename="puzzle.png")
    caption = _(
        "🧩 Which numbered shape is the one in the frame on the left? Tap its number to claim {amount}."
    ).format(amount=amount(got.campaign.price, got.campaign.asset))
    join = got.campaign.id if got.campaign.kind == ads.JOIN else 0
    rows = [
        [
            InlineKeyboardButton(text=str(i + 1), callback_data=AdCaptchaCB(c=got.id, o=i, j=join).pack())
            for i in range(k, k + 3)
        ]
        for k in (0, 3)
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text=_("🔄 Another picture"), callback_data=AdCB(action="claim", c=got.campaign.id).pack()
            ),
            InlineKeyboardButton(
                text=_("▶️ Next ad"), callback_data=AdCB(action="skip", c=got.campaign.id).pack()
            ),
        ]
    )
    kb = InlineKeyboardMarkup(inline_keyboard=rows)
    if message.photo:
        await message.edit_media(InputMediaPhoto(media=photo, caption=caption), reply_markup=kb)
    else:
        await message.answer_photo(photo, caption=caption, reply_markup=kb)


async def cb_answer(
    query: CallbackQuery,
    callback_data: AdCaptchaCB,
    db: Database,
    params: Params,
    user: User,
    bot: Bot,
    locale: str,
) -> None:
    message = shown(query)
    member = None
    if callback_data.j:
        c = await db.read(ads.get_campaign, callback_data.j)
        member = await is_member(bot, c.channel or "", user.id)
    out = await db.write(
        ads.answer_claim, user.id, callback_data.c, callback_data.o, ads.settings_for(params), member=member
    )
    kb = after_markup(out.campaign_id, out.status == "wrong", locale)
    await message.edit_caption(caption=outcome_text(out), reply_markup=kb)
    await query.answer()


@lru_cache(maxsize=1024)
def after_markup(campaign_id: int, wrong: bool, locale: str) -> InlineKeyboardMarkup:
    """Under an answered puzzle: the next ad (and a new puzzle after a wrong answer). Built once
    per campaign and language (``_`` reads the locale the middleware set, which is ``locale``)."""
    rows = [
        [InlineKeyboardButton(text=_("▶️ Next ad"), callback_data=AdCB(action="skip", c=campaign_id).pack())]
    ]
    if wrong:
        new = AdCB(action="claim", c=campaign_id).pack()
        rows.insert(0, [InlineKeyboardButton(text=_("🔄 New puzzle"), callback_data=new)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def outcome_text(o: ads.Outcome) -> str:
    if o.status == "paid":
        return _("✅ Correct! {amount} is in your wallet.").format(amount=amount(o.amount, o.asset))
    if o.status == "held":
        return _(
            "⏳ Correct! {amount} is reserved for you and paid in {time} if you are still a member."
        ).format(amount=amount(o.amount, o.asset), time=wait_text(o.wait_seconds))
    if o.status == "wrong":
        return _("❌ Wrong answer, nothing was paid. You can try a new puzzle in {time}.").format(
            time=wait_text(o.wait_seconds)
        )
    if o.status == "already":
        return _("You were already paid for this ad.")
    if o.reason == "budget":
        return _("This ad's budget ran out before your claim. Nothing was paid.")
    if o.reason == "cancelled":
        return _("This ad ended before your claim. Nothing was paid.")
    return _("This ad was paused before your claim. Nothing was paid.")


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_ads, Command("ads"))
    routes.callback_query.register(cb_feed, MenuCB.filter(F.to == "ads"))
    valid = (F.c > 0) & (F.c < MAX_ID)
    routes.callback_query.register(cb_claim, AdCB.filter((F.action == "claim") & valid))
    routes.callback_query.register(cb_next, AdCB.filter(F.action.in_(("skip", "report", "next")) & valid))
    routes.callback_query.register(
        cb_answer,
        AdCaptchaCB.filter(valid & (F.o >= 0) & (F.o < ads.OPTIONS) & (F.j >= 0) & (F.j < MAX_ID)),
    )
    return routes
