"""/limits: a daily loss limit per coin and self-exclusion, which the bot keeps to."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import get_asset
from core.platform.db import Database
from core.play import stakes
from handlers.common import errors
from handlers.common.args import words
from handlers.common.data import shown
from handlers.common.i18n import _, __, amount
from handlers.common.menu import MenuCB, back_button
from handlers.common.private import private_chat_only


class LimitCB(CallbackData, prefix="lx"):
    days: int


def limits_view(limits: stakes.Limits) -> tuple[str, InlineKeyboardMarkup]:
    lines = [_("<b>Your limits</b>")]
    if limits.excluded_until is not None:
        lines.append(_("Games paused until {until:%Y-%m-%d %H:%M} UTC.").format(until=limits.excluded_until))
    for asset, (daily, _changed) in limits.daily.items():
        lines.append(_("Daily loss limit: {amount}").format(amount=amount(daily, asset)))
    if len(lines) == 1:
        lines.append(_("No limits set."))
    lines += [
        "",
        _(
            "Set a daily loss limit: /limits ASSET AMOUNT (or /limits ASSET off). Lowering works at once; "
            "raising or removing only 24 hours after the last change."
        ),
        _("Pause all games (cannot be undone early):"),
    ]
    kb = InlineKeyboardBuilder()
    for days, text in ((1, _("1 day")), (7, _("7 days")), (30, _("30 days"))):
        kb.button(text=text, callback_data=LimitCB(days=days))
    kb.adjust(3)
    kb.row(back_button())
    return "\n".join(lines), kb.as_markup()


async def cmd_limits(message: Message, command: CommandObject, user: User, db: Database) -> None:
    args = words(command)
    if len(args) == 2:
        asset = get_asset(args[0])
        daily = None if args[1].lower() == "off" else (0 if args[1] == "0" else parse_amount(args[1], asset))
        limits = await db.write(stakes.set_loss_limit, user.id, asset.code, daily)
    elif not args:
        limits = await db.read(stakes.get_limits, user.id)
    else:
        await message.answer(_("Usage: /limits ASSET AMOUNT, or /limits ASSET off"))
        return
    text, kb = limits_view(limits)
    await message.answer(text, reply_markup=kb)


async def cb_limits_menu(query: CallbackQuery, user: User, db: Database) -> None:
    message = shown(query)
    text, kb = limits_view(await db.read(stakes.get_limits, user.id))
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_exclude(query: CallbackQuery, callback_data: LimitCB, user: User, db: Database) -> None:
    message = shown(query)
    text, kb = limits_view(await db.write(stakes.self_exclude, user.id, callback_data.days))
    await message.edit_text(text, reply_markup=kb)
    await query.answer(_("Games paused."))


errors.register(
    "limit_raise_locked",
    lambda e: _("You can raise or remove this limit after {after:%Y-%m-%d %H:%M} UTC.").format(
        after=e.params["after"]
    ),
)
errors.register(
    "exclusion_locked",
    lambda e: _(
        "Games are already paused until {until:%Y-%m-%d %H:%M} UTC; a pause cannot be shortened."
    ).format(until=e.params["until"]),
)
errors.register("bad_period", __("That is not a valid choice."))


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_limits, Command("limits"))
    routes.callback_query.register(cb_limits_menu, MenuCB.filter(F.to == "limits"))
    routes.callback_query.register(cb_exclude, LimitCB.filter(F.days.in_(set(stakes.EXCLUSION_DAYS))))
    return routes
