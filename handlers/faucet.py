"""/faucet: pick a coin, tap the right emoji, get a small reward once per interval."""

# i18n-domain: earning

from __future__ import annotations

from functools import lru_cache

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core import faucet
from core.assets import ASSETS
from core.db import Database
from core.params import Params
from core.users import User
from handlers import errors, labels
from handlers import notices as notice_texts
from handlers.i18n import _, __, amount
from handlers.menu import MAX_ID, MenuCB, back_button

router = Router(name=__name__)


class FaucetCB(CallbackData, prefix="fa"):
    """Ask for a captcha to claim ``asset``."""

    asset: str


class CaptchaCB(CallbackData, prefix="fq"):
    """An answer: challenge id and the option tapped. The right answer lives in the DB."""

    c: int
    o: int


def wait_text(seconds: int) -> str:
    seconds = max(1, int(seconds))
    if seconds < 60:
        return _("{n} s").format(n=seconds)
    minutes = -(-seconds // 60)
    if minutes < 60:
        return _("{n} min").format(n=minutes)
    return _("{h} h {m} min").format(h=minutes // 60, m=minutes % 60)


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
labels.register(faucet.CODE, __("Faucet claim"))
notice_texts.register(
    "faucet_dry",
    lambda p: _("🏜 The {asset} faucet pool is empty. Users cannot claim until it is funded (/fund).").format(
        asset=p["asset"]
    ),
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


@router.message(Command("faucet"))
async def cmd_faucet(message: Message, params: Params) -> None:
    text, kb = pick_view(params)
    await message.answer(text, reply_markup=kb)


@router.callback_query(MenuCB.filter(F.to == "faucet"))
async def cb_faucet_menu(query: CallbackQuery, params: Params) -> None:
    text, kb = pick_view(params)
    await query.message.edit_text(text, reply_markup=kb)
    await query.answer()


@router.callback_query(FaucetCB.filter(F.asset.in_(tuple(ASSETS))))
async def cb_pick(
    query: CallbackQuery,
    callback_data: FaucetCB,
    user: User,
    db: Database,
    params: Params,
    admin_ids,
    locale: str,
) -> None:
    asset = callback_data.asset
    s = faucet.settings_for(params, asset)
    got = await db.write(faucet.new_challenge, user.id, asset, s, admin_ids=tuple(admin_ids))
    if isinstance(got, faucet.Outcome):
        await query.message.edit_text(outcome_text(got), reply_markup=again_markup(asset, locale))
    else:
        kb = InlineKeyboardBuilder()
        for i, emoji in enumerate(got.options):
            kb.button(text=emoji, callback_data=CaptchaCB(c=got.id, o=i))
        kb.adjust(3)
        kb.row(back_button())
        text = _("🧩 Tap the {emoji} to claim {amount}.").format(
            emoji=got.target, amount=amount(s.reward, asset)
        )
        await query.message.edit_text(text, reply_markup=kb.as_markup())
    await query.answer()


@router.callback_query(CaptchaCB.filter((F.c > 0) & (F.c < MAX_ID) & (F.o >= 0) & (F.o < faucet.OPTIONS)))
async def cb_answer(
    query: CallbackQuery,
    callback_data: CaptchaCB,
    user: User,
    db: Database,
    params: Params,
    admin_ids,
    locale: str,
) -> None:
    outcome = await db.write(
        faucet.answer_challenge,
        user.id,
        callback_data.c,
        callback_data.o,
        lambda asset: faucet.settings_for(params, asset),
        admin_ids=tuple(admin_ids),
    )
    await query.message.edit_text(outcome_text(outcome), reply_markup=again_markup(outcome.asset, locale))
    await query.answer()


def outcome_text(o: faucet.Outcome) -> str:
    if o.status == "paid":
        return _("✅ Correct! {amount} is in your wallet. Next {asset} claim in {time}.").format(
            amount=amount(o.amount, o.asset), asset=o.asset, time=wait_text(o.wait_seconds)
        )
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


@lru_cache(maxsize=64)
def again_markup(asset: str, locale: str) -> InlineKeyboardMarkup:
    # Shown after every claim, so built once per coin and language (``_`` reads the
    # locale the middleware set, which is ``locale``); nothing mutates a sent markup.
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=_("🔄 New puzzle"), callback_data=FaucetCB(asset=asset).pack()),
                InlineKeyboardButton(text=_("🚰 Other coins"), callback_data=MenuCB(to="faucet").pack()),
            ],
            [back_button()],
        ]
    )
