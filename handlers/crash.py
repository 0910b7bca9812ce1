"""Crash: /crash to join the next round, the Cash out button, and the admins' chain commands."""
# i18n-domain: games

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core import crash, fair
from core.assets import ASSETS, get_asset
from core.config import Settings
from core.db import Database
from core.games import parse_hundredths
from core.money import parse_amount
from core.params import Params
from core.stakes import rules_for, step_stake
from core.users import User
from handlers import errors, labels
from handlers.admin import IsAdmin
from handlers.i18n import _, __, amount
from handlers.menu import MAX_ID, MenuCB, back_button

router = Router(name=__name__)
log = logging.getLogger(__name__)


class CashCB(CallbackData, prefix="co"):
    bet: int


class CrashCB(CallbackData, prefix="cj"):
    act: str  # join | half | dbl
    a: str
    amt: int


def x(hundredths: int) -> str:
    return fair.format_fixed(hundredths) + "x"


def cash_button(bet_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("💸 Cash out"), callback_data=CashCB(bet=bet_id))
    return kb.as_markup()


def joined_text(bet: crash.CrashBet, rnd: crash.Round, asked: int | None) -> str:
    lines = [
        _("📈 <b>Crash round #{game}</b>").format(game=rnd.game),
        _("Your bet: {amount}").format(amount=amount(bet.amount, bet.asset)),
    ]
    # The ceiling every bet has is news only to a player who asked for an auto cash-out.
    if bet.auto_cashout and (asked is not None or bet.auto_cashout < crash.AUTO_MAX):
        lines.append(_("Auto cash-out at {x}").format(x=x(bet.auto_cashout)))
    lines.append(
        _("Betting closes at {at:%H:%M:%S} UTC; then tap Cash out before it crashes.").format(
            at=rnd.betting_ends_at
        )
    )
    return "\n".join(lines)


async def _join(
    message: Message, db: Database, params: Params, user: User, asset: str, amt: int, auto, idem: str
):
    bet, rnd = await db.write(
        crash.join,
        user_id=user.id,
        asset=asset,
        amount=amt,
        auto_cashout=auto,
        rules=rules_for(params, asset),
        idem=idem,
        chat_id=message.chat.id,
        locale=user.locale,
    )
    if bet.replayed and bet.message_id:
        return
    sent = await message.answer(joined_text(bet, rnd, auto), reply_markup=cash_button(bet.id))
    await db.write(crash.set_message, bet.id, sent.message_id)


def crash_panel(asset: str, amt: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for act, text in (("half", "½"), ("dbl", "×2"), ("join", _("▶️ Join next round"))):
        kb.button(text=text, callback_data=CrashCB(act=act, a=asset, amt=amt))
    kb.adjust(3)
    kb.row(back_button())
    return kb.as_markup()


async def crash_info(db: Database, asset: str, amt: int) -> str:
    chain = await db.read(crash.latest_chain)
    lines = [_("📈 <b>Crash</b>: the multiplier rises until it crashes. Cash out before that.")]
    if chain is None or chain.salt is None:
        lines.append(_("No rounds yet: the game chain is being prepared."))
    else:
        lines.append(
            _("Chain commitment: <code>{hash}</code>\nSalt: <code>{salt}</code>").format(
                hash=chain.commitment, salt=chain.salt
            )
        )
    for rnd in await db.read(crash.recent_rounds, 5):
        lines.append(_("#{game}: {x}").format(game=rnd.game, x=x(rnd.crash_point)))
    lines.append(_("Bet: {amount}").format(amount=amount(amt, asset)))
    lines.append(_("Type /crash 0.0001 DOGE auto 2 to join with an automatic cash-out at 2x."))
    return "\n".join(lines)


@router.message(Command("crash"))
async def cmd_crash(
    message: Message, command: CommandObject, user: User, db: Database, params: Params
) -> None:
    args = (command.args or "").split()
    if not args:
        await message.answer(await crash_info(db, "DOGE", 10_000), reply_markup=crash_panel("DOGE", 10_000))
        return
    if len(args) not in (2, 4) or (len(args) == 4 and args[2].lower() != "auto"):
        await message.answer(_("Usage: /crash AMOUNT ASSET, or /crash AMOUNT ASSET auto MULTIPLIER"))
        return
    asset = get_asset(args[1])
    amt = parse_amount(args[0], asset)
    auto = parse_hundredths(args[3]) if len(args) == 4 else None
    await _join(
        message, db, params, user, asset.code, amt, auto, f"msg:{message.chat.id}:{message.message_id}"
    )


@router.callback_query(MenuCB.filter(F.to == "crash"))
async def cb_crash_menu(query: CallbackQuery, db: Database) -> None:
    await query.message.edit_text(
        await crash_info(db, "DOGE", 10_000), reply_markup=crash_panel("DOGE", 10_000)
    )
    await query.answer()


@router.callback_query(
    CrashCB.filter(F.act.in_({"join", "half", "dbl"}) & F.a.in_(set(ASSETS)) & (F.amt > 0))
)
async def cb_crash(
    query: CallbackQuery, callback_data: CrashCB, user: User, db: Database, params: Params
) -> None:
    c = callback_data
    amt = step_stake(c.amt, c.act)
    if c.act == "join":
        await _join(query.message, db, params, user, c.a, amt, None, f"cb:{query.id}")
        await query.answer(_("You are in the next round."))
        return
    await query.message.edit_text(await crash_info(db, c.a, amt), reply_markup=crash_panel(c.a, amt))
    await query.answer()


@router.callback_query(CashCB.filter((F.bet > 0) & (F.bet < MAX_ID)))
async def cb_cash_out(query: CallbackQuery, callback_data: CashCB, user: User, db: Database) -> None:
    bet = await db.write(crash.cash_out, user_id=user.id, bet_id=callback_data.bet)
    await query.answer(
        _("Cashed out at {x}: {payout}").format(x=x(bet.cashout), payout=amount(bet.payout, bet.asset)),
        show_alert=False,
    )


async def post_to_channel(bot: Bot, params: Params, text: str) -> None:
    channel = params.get("crash.channel")
    if not channel:
        return
    try:
        await bot.send_message(channel, text)
    except Exception:  # the channel is a courtesy copy: never fail the round for it
        log.warning("could not post to the crash channel", exc_info=True)


@router.message(Command("crashnew"), IsAdmin())
async def cmd_crashnew(message: Message, db: Database, params: Params, settings: Settings, bot: Bot) -> None:
    await db.read(crash.check_new_chain)  # refuse before seconds of hashing, not after
    new = await asyncio.to_thread(crash.build_chain, params.get("crash.chain_length"))
    chain = await db.write(
        crash.create_chain, new, secret_key=settings.secret_key, admin_id=message.from_user.id
    )
    text = _(
        "New crash chain of {length} games. Commitment (terminating hash): <code>{hash}</code>\n"
        "Now publish it, then set the salt with /crashsalt HEX (e.g. a Bitcoin block hash mined later)."
    ).format(length=chain.length, hash=chain.commitment)
    await message.answer(text)
    await post_to_channel(bot, params, text)


@router.message(Command("crashsalt"), IsAdmin())
async def cmd_crashsalt(
    message: Message, command: CommandObject, db: Database, params: Params, bot: Bot, crash_runner=None
) -> None:
    chain = await db.write(crash.set_salt, command.args or "", admin_id=message.from_user.id)
    if crash_runner is not None:  # open the first round now, so "Rounds start now" is true
        await crash_runner.poke()
    text = _("Crash salt set: <code>{salt}</code> for chain <code>{hash}</code>. Rounds start now.").format(
        salt=chain.salt, hash=chain.commitment
    )
    await message.answer(text)
    await post_to_channel(bot, params, text)


errors.register("no_round", __("No crash round is taking bets right now. Try again in a few seconds."))
errors.register("betting_closed", __("This round has started; join the next one in a few seconds."))
errors.register("crashed", __("Too late: the round has crashed."))
errors.register("not_started", __("The round has not started yet."))
errors.register("already_cashed", __("You have already cashed out."))
errors.register("already_joined", __("You are already in this round."))
errors.register("bad_auto", __("Auto cash-out must be between 1.01x and 1000000x."))
errors.register("no_chain", __("Create a chain first with /crashnew."))
errors.register("salt_set", __("The salt of this chain is already set."))
errors.register("bad_salt", __("The salt must be 16 to 128 hexadecimal characters."))
errors.register("chain_exists", __("The current chain still has games to play."))
labels.register("crash_bet", __("Crash bet"))
labels.register("crash_win", __("Crash win"))
