"""/stake and /unstake: DUST positions, their rewards per epoch and an APY estimate."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from core.identity.users import User
from core.loyalty import staking
from core.money.amounts import parse_amount
from core.money.assets import get_asset
from core.platform.db import Database
from core.platform.params import Params
from core.platform.schema import utcnow
from handlers.common.args import words
from handlers.common.data import shown
from handlers.common.formatting import percent, wait_text
from handlers.common.i18n import _, amount
from handlers.common.keys import update_key
from handlers.common.menu import MenuCB, back_button
from handlers.common.private import private_chat_only

DUST = get_asset(staking.DUST)


async def position_text(db: Database, params: Params, user: User) -> str:
    pos = await db.read(staking.position, user.id, utcnow())
    lines = [
        _("🥩 <b>DUST staking</b>"),
        _("Staked: {amount}").format(amount=amount(pos.staked, DUST.code)),
    ]
    for c in pos.cooling:
        lines.append(
            _("Unstaking: {amount}, spendable at {at} UTC").format(
                amount=amount(c.amount, DUST.code), at=f"{c.due_at:%Y-%m-%d %H:%M}"
            )
        )
    if pos.rewards:
        lines.append(_("Rewards of the last epochs:"))
        lines += [
            f"• {staking.epoch_start(e):%Y-%m-%d}: +{amount(a, asset)}" for e, asset, a in pos.rewards[:10]
        ]
    else:
        lines.append(_("No rewards yet: each UTC day's share is paid after midnight."))
    if pos.apy_bp is not None:
        lines.append(_("APY estimate (last 7 epochs, DUST only): {apy}%").format(apy=percent(pos.apy_bp)))
    lines.append(
        _("Stakers share {share}% of the platform's daily revenue, plus {emission} a day.").format(
            share=percent(int(params.get("staking.share"))),
            emission=amount(int(params.get("staking.emission")), DUST.code),
        )
    )
    cooldown = int(params.get("staking.cooldown"))
    if cooldown:
        lines.append(_("Unstaked DUST becomes spendable after {time}.").format(time=wait_text(cooldown)))
    lines.append(_("Use /stake AMOUNT and /unstake AMOUNT."))
    return "\n".join(lines)


def _markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[back_button()]])


async def cmd_stake(
    message: Message, command: CommandObject, user: User, db: Database, params: Params
) -> None:
    args = words(command)
    if args:
        value = parse_amount(args[0], DUST)
        await db.write(staking.stake, user.id, value, key=update_key(message), now=utcnow())
        await message.answer(_("✅ Staked {amount}.").format(amount=amount(value, DUST.code)))
    await message.answer(await position_text(db, params, user), reply_markup=_markup())


async def cmd_unstake(
    message: Message, command: CommandObject, user: User, db: Database, params: Params
) -> None:
    args = words(command)
    if not args:
        await message.answer(_("Usage: /unstake AMOUNT\nExample: /unstake 10"))
        return
    value = parse_amount(args[0], DUST)
    out = await db.write(
        staking.unstake,
        user.id,
        value,
        int(params.get("staking.cooldown")),
        key=update_key(message),
        now=utcnow(),
    )
    if out.spendable_at <= utcnow():
        text = _("✅ Unstaked {amount}; it is in your balance.").format(amount=amount(out.amount, DUST.code))
    else:
        text = _("✅ Unstaked {amount}; it becomes spendable at {at} UTC.").format(
            amount=amount(out.amount, DUST.code), at=f"{out.spendable_at:%Y-%m-%d %H:%M}"
        )
    await message.answer(text)


async def cb_stake(query: CallbackQuery, user: User, db: Database, params: Params) -> None:
    await shown(query).edit_text(await position_text(db, params, user), reply_markup=_markup())
    await query.answer()


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_stake, Command("stake"))
    routes.message.register(cmd_unstake, Command("unstake"))
    routes.callback_query.register(cb_stake, MenuCB.filter(F.to == "stake"))
    return routes
