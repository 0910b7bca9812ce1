"""/daily, /convert, /boost and /profile: reward points, streaks, boosts and levels."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import Connection

from core.identity.users import User
from core.loyalty import boosts, daily, levels, points
from core.loyalty.errors import LoyaltyError
from core.money import ledger
from core.money.accounts import user_account
from core.platform.db import Database
from core.platform.params import Params
from core.platform.schema import utcnow
from handlers.common.args import words
from handlers.common.data import shown
from handlers.common.formatting import percent, wait_text
from handlers.common.i18n import _, amount
from handlers.common.keys import update_key
from handlers.common.menu import MAX_ID, MenuCB, back_button
from handlers.common.private import private_chat_only
from handlers.loyalty.texts import source_name


class LoyCB(CallbackData, prefix="ly"):
    """act: freeze | remind | boost | cv (confirm a conversion) | cx (cancel it)."""

    act: str
    n: int = 0  # boost number, points to convert, reminders on (1) / off (0)
    a: str = ""  # boost mode, or the coin of a conversion
    q: int = 0  # the quoted coin amount (minor units)


def _key(query: CallbackQuery, *parts: object) -> str:
    """One purchase per message the button is on: a second tap replays it."""
    m = shown(query)
    return ":".join(str(p) for p in (query.from_user.id, m.chat.id, m.message_id, *parts))


# --- /daily -------------------------------------------------------------------------


def daily_markup(s: daily.Streak, rules: points.Rules) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("🧊 Buy a streak freeze ({price} RP)").format(price=rules.freeze_price),
        callback_data=LoyCB(act="freeze"),
    )
    if s.reminders:
        kb.button(text=_("🔕 Stop streak reminders"), callback_data=LoyCB(act="remind", n=0))
    else:
        kb.button(text=_("🔔 Remind me before my streak ends"), callback_data=LoyCB(act="remind", n=1))
    kb.adjust(1)
    kb.row(back_button())
    return kb.as_markup()


async def check_in(db: Database, params: Params, user: User) -> tuple[str, InlineKeyboardMarkup]:
    rules = points.rules_from(params)
    try:
        got = await db.write(daily.check_in, rules, user.id, utcnow())
        text = _("🎁 Check-in done: +{points} RP. Streak: {streak} day(s).").format(
            points=got.points, streak=got.streak
        )
        if got.freezes_used:
            text += "\n" + _("🧊 {n} streak freeze(s) kept your streak alive.").format(n=got.freezes_used)
        text += "\n" + _("Next check-in in {time}.").format(time=wait_text(got.next_in))
    except LoyaltyError as err:
        if err.reason != "already_checked_in":
            raise
        text = _("You already checked in today. Come back in {time} (midnight UTC).").format(
            time=wait_text(int(str(err.params["seconds"])))
        )
    s = await db.read(daily.streak_of, user.id)
    text += "\n" + _("Streak freezes: {n}").format(n=s.freezes)
    return text, daily_markup(s, rules)


async def cmd_daily(message: Message, user: User, db: Database, params: Params) -> None:
    text, kb = await check_in(db, params, user)
    await message.answer(text, reply_markup=kb)


async def cb_daily(query: CallbackQuery, user: User, db: Database, params: Params) -> None:
    message = shown(query)
    text, kb = await check_in(db, params, user)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_freeze(query: CallbackQuery, user: User, db: Database, params: Params) -> None:
    held = await db.write(daily.buy_freeze, points.rules_from(params), user.id, key=_key(query), now=utcnow())
    await query.answer(_("🧊 Streak freezes held: {n}").format(n=held), show_alert=True)


async def cb_remind(
    query: CallbackQuery, callback_data: LoyCB, user: User, db: Database, params: Params
) -> None:
    await db.write(daily.set_reminders, user.id, callback_data.n == 1)
    s = await db.read(daily.streak_of, user.id)
    await shown(query).edit_reply_markup(reply_markup=daily_markup(s, points.rules_from(params)))
    await query.answer(_("Reminders on.") if s.reminders else _("Reminders off."))


# --- /convert -----------------------------------------------------------------------


def usage_convert() -> str:
    return _("Usage: /convert POINTS COIN\nExample: /convert 500 DOGE")


async def cmd_convert(
    message: Message, command: CommandObject, user: User, db: Database, params: Params
) -> None:
    args = words(command)
    if len(args) != 2:
        await message.answer(usage_convert())
        return
    raw, coin = args
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 15):
        raise LoyaltyError("bad_points")
    q = points.quote(points.rules_from(params), int(raw), coin)
    held = await db.read(ledger.balance, user_account(user.id), points.RP)
    if held.available < q.points:
        raise LoyaltyError("not_enough_points", need=q.points)
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Confirm"), callback_data=LoyCB(act="cv", n=q.points, a=q.asset, q=q.amount))
    kb.button(text=_("✖️ Cancel"), callback_data=LoyCB(act="cx"))
    await message.answer(
        _("Convert {points} RP into {amount}? Paid at today's rate.").format(
            points=q.points, amount=amount(q.amount, q.asset)
        ),
        reply_markup=kb.as_markup(),
    )


async def cb_convert(
    query: CallbackQuery, callback_data: LoyCB, user: User, db: Database, params: Params
) -> None:
    message = shown(query)
    cd = callback_data
    q = await db.write(
        points.convert, points.rules_from(params), user.id, cd.n, cd.a, cd.q, key=_key(query), now=utcnow()
    )
    await message.edit_text(
        _("✅ Converted {points} RP into {amount}.").format(points=q.points, amount=amount(q.amount, q.asset))
    )
    await query.answer()


async def cb_cancel(query: CallbackQuery) -> None:
    await shown(query).edit_text(_("Cancelled. Nothing was changed."))
    await query.answer()


# --- /boost -------------------------------------------------------------------------


def boost_line(boost: boosts.Boost | None) -> str:
    if boost is None:
        return _("No boost running.")
    return _("🚀 Boost +{percent}% on faucet, ad and offer rewards, {time} left.").format(
        percent=percent(boost.bp), time=wait_text(boost.left(utcnow()))
    )


async def cmd_boost(
    message: Message, command: CommandObject, user: User, db: Database, params: Params
) -> None:
    rules = points.rules_from(params)
    args = words(command)
    running = await db.read(boosts.active, user.id, utcnow())
    if not args:
        lines = [
            _("🚀 <b>Boosts</b>: spend reward points to raise faucet, ad and offer rewards."),
            boost_line(running),
        ]
        kb = InlineKeyboardBuilder()
        for c in rules.boosts:
            lines.append(
                _("{number}. +{percent}% for {time}: {price} RP").format(
                    number=c.number, percent=percent(c.bp), time=wait_text(c.seconds), price=c.price
                )
            )
            kb.button(
                text=f"{c.number}. +{percent(c.bp)}%", callback_data=LoyCB(act="boost", n=c.number, a="ask")
            )
        kb.adjust(3)
        kb.row(back_button())
        await message.answer("\n".join(lines), reply_markup=kb.as_markup())
        return
    number = int(args[0]) if args[0].isascii() and args[0].isdigit() and len(args[0]) < 6 else 0
    mode = args[1].lower() if len(args) > 1 else "new"
    if mode not in ("new", "extend", "replace") or not any(c.number == number for c in rules.boosts):
        raise LoyaltyError("unknown_boost", number=args[0][:8])
    if running is not None and mode == "new":
        await message.answer(boost_line(running), reply_markup=choose_markup(number))
        return
    boost = await db.write(
        boosts.buy,
        rules.boosts,
        user.id,
        number,
        mode,
        key=update_key(message, "boost"),
        now=utcnow(),
    )
    await message.answer(boost_line(boost))


def choose_markup(number: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("➕ Extend it"), callback_data=LoyCB(act="boost", n=number, a="extend"))
    kb.button(text=_("🔁 Replace it"), callback_data=LoyCB(act="boost", n=number, a="replace"))
    kb.row(back_button())
    return kb.as_markup()


async def cb_boost(
    query: CallbackQuery, callback_data: LoyCB, user: User, db: Database, params: Params
) -> None:
    message = shown(query)
    rules = points.rules_from(params)
    number, mode = callback_data.n, callback_data.a
    if not any(c.number == number for c in rules.boosts):
        raise LoyaltyError("unknown_boost", number=number)
    running = await db.read(boosts.active, user.id, utcnow())
    if mode == "ask":
        if running is not None:
            await message.edit_text(boost_line(running), reply_markup=choose_markup(number))
            await query.answer()
            return
        mode = "new"
    boost = await db.write(
        boosts.buy, rules.boosts, user.id, number, mode, key=_key(query, number), now=utcnow()
    )
    await message.edit_text(boost_line(boost))
    await query.answer()


# --- /profile -----------------------------------------------------------------------

Profile = tuple[levels.Progress, daily.Streak, boosts.Boost | None, dict[str, int], int, int]


def _profile(conn: Connection, rules: points.Rules, user_id: int) -> Profile:
    now = utcnow()
    return (
        levels.progress(rules.levels, points.lifetime_points(conn, user_id)),
        daily.streak_of(conn, user_id),
        boosts.active(conn, user_id, now),
        points.earned_by_source(conn, user_id),
        ledger.balance(conn, user_account(user_id), points.RP).available,
        points.day_of(now),
    )


async def profile_text(db: Database, params: Params, user: User) -> str:
    rules = points.rules_from(params)
    progress, streak, boost, by_source, held, today = await db.read(_profile, rules, user.id)
    lines = [
        _("🏅 <b>Your profile</b>"),
        _("Level {level} · faucet bonus +{bonus}%").format(
            level=progress.level.number, bonus=percent(progress.level.bonus_bp)
        ),
    ]
    if progress.next is not None:
        lines.append(
            _("{left} RP more to level {level} (+{bonus}%). Lifetime: {lifetime} RP.").format(
                left=progress.to_next,
                level=progress.next.number,
                bonus=percent(progress.next.bonus_bp),
                lifetime=progress.lifetime,
            )
        )
    else:
        lines.append(_("Top level reached. Lifetime: {lifetime} RP.").format(lifetime=progress.lifetime))
    alive = streak.streak if streak.alive(today) else 0
    lines.append(
        _("🔥 Streak: {streak} day(s) · 🧊 freezes: {freezes}").format(streak=alive, freezes=streak.freezes)
    )
    lines.append(boost_line(boost))
    lines.append(_("Reward points: {points} RP").format(points=held))
    if by_source:
        lines.append(_("Earned by source:"))
        lines += [f"• {source_name(s)}: {n} RP" for s, n in by_source.items()]
    return "\n".join(lines)


async def cmd_profile(message: Message, user: User, db: Database, params: Params) -> None:
    kb = InlineKeyboardMarkup(inline_keyboard=[[back_button()]])
    await message.answer(await profile_text(db, params, user), reply_markup=kb)


async def cb_profile(query: CallbackQuery, user: User, db: Database, params: Params) -> None:
    kb = InlineKeyboardMarkup(inline_keyboard=[[back_button()]])
    await shown(query).edit_text(await profile_text(db, params, user), reply_markup=kb)
    await query.answer()


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    small = (F.n >= 0) & (F.n < MAX_ID) & (F.q >= 0) & (F.q < 2**62)
    routes.message.register(cmd_daily, Command("daily"))
    routes.callback_query.register(cb_daily, MenuCB.filter(F.to == "daily"))
    routes.callback_query.register(cb_freeze, LoyCB.filter(F.act == "freeze"))
    routes.callback_query.register(cb_remind, LoyCB.filter((F.act == "remind") & F.n.in_({0, 1})))
    routes.message.register(cmd_convert, Command("convert"))
    routes.callback_query.register(cb_convert, LoyCB.filter((F.act == "cv") & small))
    routes.callback_query.register(cb_cancel, LoyCB.filter(F.act == "cx"))
    routes.message.register(cmd_boost, Command("boost"))
    routes.callback_query.register(
        cb_boost, LoyCB.filter((F.act == "boost") & small & F.a.in_({"ask", "new", "extend", "replace"}))
    )
    routes.message.register(cmd_profile, Command("profile"))
    routes.callback_query.register(cb_profile, MenuCB.filter(F.to == "profile"))
    return routes
