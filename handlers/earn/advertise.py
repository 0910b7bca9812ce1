"""/advertise: a campaign step by step with buttons, or in one line (/campaigns, in
handlers.earn.campaigns, shows and manages the campaigns).

Steps: kind (visit a site, join a channel), title, description, URL or channel, duration
(visits), coin, price per view, number of views, language targeting; then the quote (views ×
price, the platform fee ``ads.fee`` on top, the total) with Confirm, which reserves the total
until moderation (core.earn.ad_campaigns). In one line:
``/advertise <url> <seconds> <views> <price> <asset> <title>``.

For a join task the bot must be an admin of the chat (it checks members with getChatMember):
asked of Telegram here, before the campaign exists.
"""

from __future__ import annotations

import html

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.earn import ad_campaigns, ads
from core.errors import DomainError
from core.identity.users import LANGUAGES, User
from core.money.amounts import parse_amount
from core.money.assets import ASSET_CODES, get_asset
from core.platform.db import Database
from core.platform.params import Params
from handlers.common import errors, labels
from handlers.common.data import AdminIds, shown, text_of
from handlers.common.filters import NotCommand
from handlers.common.formatting import percent
from handlers.common.i18n import LANGUAGE_NAMES, _, __, amount
from handlers.common.menu import MAX_ID, back_button
from handlers.common.private import private_chat_only
from handlers.earn.ad_review import notify_admins
from handlers.earn.ads import chat_status

errors.register("ad_title_empty", __("The title cannot be empty."))
errors.register(
    "ad_title_too_long", __("The title is too long: at most {limit} characters (yours has {length}).")
)
errors.register(
    "ad_description_too_long",
    __("The description is too long: at most {limit} characters (yours has {length})."),
)
errors.register(
    "ad_bad_url", __("That is not a web address the bot can send people to. Use http:// or https://.")
)
errors.register("ad_bad_channel", __("That is not a channel: send its @username or its t.me link."))
errors.register("ad_bad_duration", __("The duration must be {low} to {high} seconds."))
errors.register("ad_bad_views", __("The number of views must be a whole number from 1 to {high}."))
errors.register(
    "ad_price_too_low",
    lambda e: _("The price per view must be at least {minimum}.").format(
        minimum=amount(int(str(e.params["minimum"])), str(e.params["asset"]))
    ),
)
errors.register("ad_bad_lang", __("Unknown language: choose one of en, es, pt, ru, id, or any."))
errors.register("ad_bad_kind", __("That does not apply to this kind of campaign."))
errors.register(
    "ad_budget_above_balance",
    lambda e: (
        _("Not enough funds: this needs {total} and your balance is lower. Nothing was reserved.").format(
            total=amount(int(str(e.params["total"])), str(e.params.get("asset") or "BTC"))
        )
        if e.params.get("asset")
        else _("Not enough funds for this campaign. Nothing was reserved.")
    ),
)
errors.register("ad_not_draft", __("Campaign #{id} was already confirmed or cancelled."))
labels.register(ad_campaigns.BUDGET_CODE, __("Ad budget"))
labels.register(ad_campaigns.INVALID_CODE, __("Invalid ad view refunded"))


class Advertise(StatesGroup):
    title = State()
    description = State()
    target = State()
    price = State()
    views = State()


class AdvCB(CallbackData, prefix="av"):
    """A wizard step answered with a button: ``step`` (kind, desc, dur, asset, lang), value ``v``."""

    step: str
    v: str


class CampCB(CallbackData, prefix="cp"):
    """An action on campaign ``id``: confirm | drop (a draft) here; pause | resume | cancel | topup
    (``n`` views) in handlers.earn.campaigns."""

    action: str
    id: int
    n: int = 0


DURATIONS = (5, 10, 15, 30, 45, 60)


def usage() -> str:
    return _(
        "Send /advertise to set up an ad step by step, or in one line:\n"
        "<code>/advertise URL SECONDS VIEWS PRICE COIN TITLE</code>\n"
        "for example <code>/advertise https://example.com 10 100 0.00000050 BTC My shop</code>"
    )


def kind_picker() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("🔗 Visit a site"), callback_data=AdvCB(step="kind", v="visit").pack()
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("➕ Join a channel"), callback_data=AdvCB(step="kind", v="join").pack()
                )
            ],
            [back_button()],
        ]
    )


def picker(step: str, values: list[tuple[str, str]], width: int = 3) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for label, value in values:
        kb.button(text=label, callback_data=AdvCB(step=step, v=value))
    kb.adjust(width)
    return kb.as_markup()


async def cmd_advertise(
    message: Message, command: CommandObject, state: FSMContext, user: User, db: Database, params: Params
) -> None:
    if not command.args:
        await state.clear()
        await message.answer(
            _("📣 <b>Advertise</b>\nWhat should people do for your coins?\n\n{usage}").format(usage=usage()),
            reply_markup=kind_picker(),
        )
        return
    words = command.args.split(maxsplit=5)
    if len(words) < 6 or not all(w.isdigit() for w in words[1:3]):
        await message.answer(usage())
        return
    url, seconds, views, price, coin, title = words
    try:
        asset = get_asset(coin).code
        spec = ad_campaigns.Spec(
            kind="visit",
            title=title,
            asset=asset,
            price=parse_amount(price, get_asset(asset)),
            views=int(views),
            url=url,
            duration=int(seconds),
        )
    except DomainError as err:
        await message.answer(errors.explain(err, as_html=True))
        return
    await quote(message, user, db, params, spec)


async def quote(message: Message, user: User, db: Database, params: Params, spec: ad_campaigns.Spec) -> None:
    s = ads.settings_for(params)
    q = await db.write(ad_campaigns.create_draft, user.id, spec, s)
    lines = [
        _("📣 <b>Your campaign</b>"),
        _("{views} views × {price} = {budget}").format(
            views=q.views, price=amount(q.price, q.asset), budget=amount(q.budget, q.asset)
        ),
        _("Platform fee ({share}%): {fee}").format(share=percent(s.fee_bp), fee=amount(q.fee, q.asset)),
        _("<b>Total: {total}</b>").format(total=amount(q.total, q.asset)),
        "",
        _("Confirm reserves the total from your balance until an admin approves the ad."),
    ]
    kb = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✅ Confirm"), callback_data=CampCB(action="confirm", id=q.campaign_id).pack()
                ),
                InlineKeyboardButton(
                    text=_("✖️ Cancel"), callback_data=CampCB(action="drop", id=q.campaign_id).pack()
                ),
            ]
        ]
    )
    await message.answer("\n".join(lines), reply_markup=kb)


# --- the wizard -----------------------------------------------------------------------


async def cb_step(
    query: CallbackQuery, callback_data: AdvCB, state: FSMContext, user: User, db: Database, params: Params
) -> None:
    message = shown(query)
    step, value = callback_data.step, callback_data.v
    data = await state.get_data()
    if step == "kind":
        await state.set_data({"kind": value})
        await state.set_state(Advertise.title)
        await message.answer(_("Send the title of your ad (at most 40 characters)."))
    elif "kind" not in data:  # a button of a wizard that is over
        await message.answer(_("This step is over. Send /advertise to start again."))
    elif step == "desc":
        await ask_target(message, state, data["kind"])
    elif step == "dur":
        await state.update_data(duration=int(value))
        await message.answer(
            _("Which coin do you pay in?"), reply_markup=picker("asset", [(a, a) for a in ASSET_CODES])
        )
    elif step == "asset":
        await state.update_data(asset=value)
        await state.set_state(Advertise.price)
        minimum = ads.settings_for(params).min_prices or {}
        await message.answer(
            _("Send the price per view in {asset} (at least {minimum}).").format(
                asset=value, minimum=amount(minimum.get(value, 1), value)
            )
        )
    elif step == "lang":
        await state.clear()
        spec = ad_campaigns.Spec(
            kind=data["kind"],
            title=data["title"],
            description=data.get("description", ""),
            url=data.get("url"),
            channel=data.get("channel"),
            duration=int(data.get("duration", 0)),
            asset=data["asset"],
            price=int(data["price"]),
            views=int(data["views"]),
            lang=None if value == "any" else value,
        )
        await quote(message, user, db, params, spec)
    await query.answer()


async def ask_target(message: Message, state: FSMContext, kind: str) -> None:
    await state.set_state(Advertise.target)
    if kind == ads.JOIN:
        await message.answer(
            _("Send the channel's @username. The bot must be an admin of it to check who joined.")
        )
    else:
        await message.answer(_("Send the address people will visit (http:// or https://)."))


async def on_title_input(message: Message, state: FSMContext) -> None:
    try:
        title = ad_campaigns.check_title(text_of(message))
    except ads.AdError as err:
        await message.answer(errors.explain(err, as_html=True))
        return
    await state.update_data(title=title)
    await state.set_state(Advertise.description)
    await message.answer(
        _("Send a short description (at most 120 characters), or skip it."),
        reply_markup=picker("desc", [(_("Skip"), "-")]),
    )


async def on_description_input(message: Message, state: FSMContext) -> None:
    try:
        description = ad_campaigns.check_description(text_of(message))
    except ads.AdError as err:
        await message.answer(errors.explain(err, as_html=True))
        return
    await state.update_data(description=description)
    await ask_target(message, state, (await state.get_data())["kind"])


async def on_target_input(message: Message, state: FSMContext, bot: Bot) -> None:
    data = await state.get_data()
    try:
        if data["kind"] == ads.JOIN:
            channel = ad_campaigns.check_channel(text_of(message))
        else:
            url = ad_campaigns.check_url(text_of(message))
    except ads.AdError as err:
        await message.answer(errors.explain(err, as_html=True))
        return
    if data["kind"] == ads.JOIN:
        problem = await channel_problem(bot, channel)
        if problem:
            await message.answer(problem)
            return
        await state.update_data(channel=channel)
        await state.set_state(None)
        await message.answer(
            _("Which coin do you pay in?"), reply_markup=picker("asset", [(a, a) for a in ASSET_CODES])
        )
        return
    await state.update_data(url=url)
    await state.set_state(None)
    await message.answer(
        _("How many seconds must people stay on the site?"),
        reply_markup=picker("dur", [(_("{n} s").format(n=n), str(n)) for n in DURATIONS]),
    )


async def channel_problem(bot: Bot, channel: str) -> str | None:
    """Why the bot cannot check members of ``channel``, or None when it can (it is an admin)."""
    status = await chat_status(bot, channel, bot.id)
    if status is None:
        return _(
            "The bot cannot see {channel}. Add the bot to it as an admin, then send the channel again."
        ).format(channel=html.escape(channel))
    if status not in ("administrator", "creator"):
        return _(
            "The bot is not an admin of {channel}: make it one (it only checks who joined), then send it again."
        ).format(channel=html.escape(channel))
    return None


async def on_price_input(message: Message, state: FSMContext, params: Params) -> None:
    data = await state.get_data()
    try:
        price = parse_amount(text_of(message), get_asset(data["asset"]))
        ad_campaigns.check_price(price, data["asset"], ads.settings_for(params))
    except DomainError as err:
        await message.answer(errors.explain(err, as_html=True))
        return
    await state.update_data(price=price)
    await state.set_state(Advertise.views)
    await message.answer(_("How many paid views do you want?"))


async def on_views_input(message: Message, state: FSMContext) -> None:
    text = text_of(message).strip()
    try:
        views = ad_campaigns.check_views(int(text) if text.lstrip("-").isdigit() and len(text) < 10 else 0)
    except ads.AdError as err:
        await message.answer(errors.explain(err, as_html=True))
        return
    await state.update_data(views=views)
    await state.set_state(None)
    langs = [(_("Everyone"), "any")] + [(LANGUAGE_NAMES[code], code) for code in LANGUAGES]
    await message.answer(_("Show it to people of which language?"), reply_markup=picker("lang", langs, 2))


# --- after the quote, and /campaigns -----------------------------------------------------


async def cb_confirm(
    query: CallbackQuery, callback_data: CampCB, user: User, db: Database, bot: Bot, admin_ids: AdminIds
) -> None:
    message = shown(query)
    c = await db.write(ad_campaigns.confirm, user.id, callback_data.id)
    await message.edit_text(
        _(
            "✅ Campaign #{id} is reserved and waits for an admin's review. /campaigns shows how it does."
        ).format(id=c.id)
    )
    await query.answer()
    await notify_admins(bot, admin_ids, c)


async def cb_drop(query: CallbackQuery, callback_data: CampCB, user: User, db: Database) -> None:
    message = shown(query)
    await db.write(ad_campaigns.cancel, user.id, callback_data.id)
    await message.edit_text(_("Nothing was reserved; the campaign is dropped."))
    await query.answer()


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_advertise, Command("advertise"))
    routes.callback_query.register(
        cb_step,
        AdvCB.filter(
            ((F.step == "kind") & F.v.in_((ads.VISIT, ads.JOIN)))
            | ((F.step == "desc") & (F.v == "-"))
            | ((F.step == "dur") & F.v.in_(tuple(str(n) for n in DURATIONS)))
            | ((F.step == "asset") & F.v.in_(ASSET_CODES))
            | ((F.step == "lang") & F.v.in_(("any", *LANGUAGES)))
        ),
    )
    routes.message.register(on_title_input, Advertise.title, NotCommand())
    routes.message.register(on_description_input, Advertise.description, NotCommand())
    routes.message.register(on_target_input, Advertise.target, NotCommand())
    routes.message.register(on_price_input, Advertise.price, NotCommand())
    routes.message.register(on_views_input, Advertise.views, NotCommand())
    valid = (F.id > 0) & (F.id < MAX_ID)
    routes.callback_query.register(cb_confirm, CampCB.filter((F.action == "confirm") & valid))
    routes.callback_query.register(cb_drop, CampCB.filter((F.action == "drop") & valid))
    return routes
