"""/faucet: pick a coin, pass the captcha, get a small reward once per interval.

The captcha (``CAPTCHA_PROVIDER``): ``buttons`` sends a picture (core.identity.captcha_image) with
buttons 1..6 that say nothing of the answer; ``turnstile``/``hcaptcha`` send a button that
opens the Mini App page of handlers.security.captcha_web, which settles the claim itself.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    WebAppInfo,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.config import Settings
from core.earn import faucet
from core.identity import captcha_image
from core.identity.users import User
from core.money.assets import ASSETS
from core.platform.db import Database
from core.platform.params import Params
from handlers.common import errors, labels
from handlers.common import notices as notice_texts
from handlers.common.data import AdminIds, shown
from handlers.common.formatting import wait_text
from handlers.common.i18n import _, __, amount
from handlers.common.menu import MAX_ID, MenuCB, back_button
from handlers.loyalty.texts import extras_line
from handlers.security import captcha_web


class FaucetCB(CallbackData, prefix="fa"):
    """Ask for a captcha to claim ``asset``."""

    asset: str


class CaptchaCB(CallbackData, prefix="fq"):
    """An answer: challenge id and the option tapped (0..5 for the picture's 1..6). The right
    answer lives in the DB; every puzzle has the same six buttons."""

    c: int
    o: int


errors.register("faucet_off", __("There is no faucet for {asset} at the moment."))
errors.register(
    "faucet_cooldown",
    lambda e: _("You already claimed {asset} in this period. Next claim in {time}.").format(
        asset=e.params["asset"], time=wait_text(e.params["seconds"])
    ),
)
errors.register(
    "captcha_wait",
    lambda e: _("Wrong answers need a short pause. New puzzle in {time}.").format(
        time=wait_text(e.params["seconds"])
    ),
)
errors.register(
    "challenge_unknown", __("This puzzle is not yours or no longer exists. Send /faucet for a new one.")
)
errors.register("challenge_used", __("This puzzle was already answered. Send /faucet for a new one."))
errors.register("challenge_expired", __("This puzzle has expired. Send /faucet for a new one."))
errors.register(
    "challenge_replaced", __("A newer puzzle replaced this one. Answer the latest, or send /faucet.")
)
errors.register("token_used", __("This check was already used. Send /faucet for a new one."))
labels.register(faucet.CODE, __("Faucet claim"))
notice_texts.register(
    "faucet_dry",
    lambda p: _("🏜 The {asset} faucet pool is empty. Users cannot claim until it is funded (/fund).").format(
        asset=p["asset"]
    ),
)
notice_texts.register(
    "faucet_checked",
    lambda p: outcome_text(faucet.Outcome(p["status"], p["asset"], int(p["amount"]), 0, int(p["wait"]))),
)


def pick_view(params: Params) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    for code in ASSETS:
        reward = params.get(f"faucet.reward.{code}")
        if reward > 0:
            kb.button(text=f"{code} · {amount(reward, code)}", callback_data=FaucetCB(asset=code))
    kb.adjust(2)
    kb.row(back_button())
    return _("🚰 <b>Faucet</b>\nPick a coin, solve a small puzzle and get a free reward."), kb.as_markup()


async def cmd_faucet(message: Message, params: Params) -> None:
    text, kb = pick_view(params)
    await message.answer(text, reply_markup=kb)


async def cb_faucet_menu(query: CallbackQuery, params: Params) -> None:
    message = shown(query)
    text, kb = pick_view(params)
    if message.photo:  # a puzzle picture: its caption is too small for the coin list
        await message.answer(text, reply_markup=kb)
    else:
        await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_pick(
    query: CallbackQuery,
    callback_data: FaucetCB,
    user: User,
    db: Database,
    params: Params,
    settings: Settings,
    admin_ids: AdminIds,
    locale: str,
) -> None:
    message = shown(query)
    asset, kind = callback_data.asset, settings.captcha_provider
    s = faucet.settings_for(params, asset)
    got = await db.write(faucet.new_challenge, user.id, asset, s, kind=kind, admin_ids=tuple(admin_ids))
    if isinstance(got, faucet.Outcome):
        await show(message, outcome_text(got), again_markup(asset, locale, bool(message.photo)))
    elif kind == "buttons":
        await show_picture(message, got, amount(s.reward, asset))
    else:
        url = captcha_web.page_url(settings, got.id, locale)
        text = _("🛡 Open the check, confirm you are a person, and {amount} is yours.").format(
            amount=amount(s.reward, asset)
        )
        await show(message, text, check_markup(url))
    await query.answer()


async def show(message: Message, text: str, markup: InlineKeyboardMarkup) -> None:
    if message.photo:
        await message.edit_caption(caption=text, reply_markup=markup)
    else:
        await message.edit_text(text, reply_markup=markup)


async def show_picture(message: Message, got: faucet.Challenge, reward: str) -> None:
    """The puzzle as a photo: a new message under the coin list, or the same photo message
    with a new picture when it already shows one (``New puzzle``)."""
    assert got.target is not None, "a picture puzzle has a target"
    png = await asyncio.to_thread(captcha_image.render, got.options, got.target)
    photo = BufferedInputFile(png, filename="puzzle.png")
    caption = _(
        "🧩 Which numbered shape is the one in the frame on the left? Tap its number to claim {amount}."
    ).format(amount=reward)
    kb = puzzle_markup(got.id, got.asset)
    if message.photo:
        await message.edit_media(InputMediaPhoto(media=photo, caption=caption), reply_markup=kb)
    else:
        await message.answer_photo(photo, caption=caption, reply_markup=kb)


def puzzle_markup(challenge_id: int, asset: str) -> InlineKeyboardMarkup:
    # The same six labels on every puzzle, in the picture's order: they tell nothing.
    kb = InlineKeyboardBuilder()
    for i in range(faucet.OPTIONS):
        kb.button(text=str(i + 1), callback_data=CaptchaCB(c=challenge_id, o=i))
    kb.adjust(3)
    kb.row(
        InlineKeyboardButton(text=_("🔄 Another picture"), callback_data=FaucetCB(asset=asset).pack()),
        InlineKeyboardButton(text=_("🚰 Other coins"), callback_data=MenuCB(to="faucet").pack()),
    )
    return kb.as_markup()


def check_markup(url: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("🛡 Open the check"), web_app=WebAppInfo(url=url))],
            [InlineKeyboardButton(text=_("🚰 Other coins"), callback_data=MenuCB(to="faucet").pack())],
        ]
    )


async def cb_answer(
    query: CallbackQuery,
    callback_data: CaptchaCB,
    user: User,
    db: Database,
    params: Params,
    admin_ids: AdminIds,
    locale: str,
) -> None:
    message = shown(query)
    outcome = await db.write(
        faucet.answer_challenge,
        user.id,
        callback_data.c,
        callback_data.o,
        lambda asset: faucet.settings_for(params, asset),
        admin_ids=tuple(admin_ids),
    )
    photo = bool(message.photo)
    await show(message, outcome_text(outcome), again_markup(outcome.asset, locale, photo))
    await query.answer()


async def settle_checked(web, user_id: int, challenge_id: int, kind: str, passed: bool, token: str):
    """A provider's verdict from the Mini App page (handlers.security.captcha_web) settles a faucet claim."""
    params = web.params
    out = await web.db.write(
        faucet.answer_by_provider,
        user_id,
        challenge_id,
        passed,
        lambda asset: faucet.settings_for(params, asset),
        kind=kind,
        token=token,
        admin_ids=tuple(web.settings.admin_ids),
    )
    return outcome_text(out), out.status == "paid"


captcha_web.register(
    faucet.PURPOSE, ttl=lambda params: params.get("faucet.challenge_ttl"), settle=settle_checked
)


def outcome_text(o: faucet.Outcome) -> str:
    if o.status == "paid":
        text = _("✅ Correct! {amount} is in your wallet. Next {asset} claim in {time}.").format(
            amount=amount(o.amount, o.asset), asset=o.asset, time=wait_text(o.wait_seconds)
        )
        extras = extras_line(o.points, o.bonus, o.asset)
        return f"{text}\n{extras}" if extras else text
    if o.status == "wrong":
        return _("❌ Wrong answer, nothing was paid. You can try a new puzzle in {time}.").format(
            time=wait_text(o.wait_seconds)
        )
    if o.status == "already":
        return _("You already claimed {asset} in this period. Next claim in {time}.").format(
            asset=o.asset, time=wait_text(o.wait_seconds)
        )
    return _("🏜 The {asset} faucet is dry right now. Nothing was taken; please try again later.").format(
        asset=o.asset
    )


@lru_cache(maxsize=128)
def again_markup(asset: str, locale: str, photo: bool = False) -> InlineKeyboardMarkup:
    # Shown after every claim, so built once per coin and language (``_`` reads the
    # locale the middleware set, which is ``locale``); nothing mutates a sent markup.
    # Under a photo there is no menu button: the menu edits text, which a photo has not.
    rows = [
        [
            InlineKeyboardButton(text=_("🔄 New puzzle"), callback_data=FaucetCB(asset=asset).pack()),
            InlineKeyboardButton(text=_("🚰 Other coins"), callback_data=MenuCB(to="faucet").pack()),
        ]
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows if photo else [*rows, [back_button()]])


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_faucet, Command("faucet"))
    routes.callback_query.register(cb_faucet_menu, MenuCB.filter(F.to == "faucet"))
    routes.callback_query.register(cb_pick, FaucetCB.filter(F.asset.in_(tuple(ASSETS))))
    routes.callback_query.register(
        cb_answer, CaptchaCB.filter((F.c > 0) & (F.c < MAX_ID) & (F.o >= 0) & (F.o < faucet.OPTIONS))
    )
    return routes
