"""Admins: ``/rates`` shows each source's last price and age per coin (and any price held back),
the manual prices and the price in force; ``/rates set ASSET USD`` sets the manual price used only
while every source is stale (``/rates set ASSET off`` clears it). Setting needs the 2FA code
(handlers.admin.codes) and is audited."""

from __future__ import annotations

import html
from datetime import datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from core.exchange import NON_SWAPPABLE, policy_for
from core.exchange.prices import (
    ADMIN_PRICED,
    MANUAL,
    MARKET_ASSETS,
    PriceRow,
    parse_price,
    price_of,
    price_text,
    set_manual_price,
)
from core.exchange.prices import report as rates_report
from core.identity.users import User
from core.money.assets import get_asset
from core.platform.db import Database
from core.platform.params import Params
from core.platform.schema import utcnow
from handlers.common import errors
from handlers.common import notices as notice_texts
from handlers.common.args import words
from handlers.common.filters import IsAdmin
from handlers.common.formatting import wait_text
from handlers.common.i18n import _, __


def _stale_notice(p: dict) -> str:
    text = _("⚠️ No fresh price for {asset} since {since}: swaps with it are paused.").format(
        asset=p["asset"], since=p["since"]
    )
    if p.get("manual"):
        text = _("⚠️ No fresh price for {asset} since {since}: swaps use your manual price.").format(
            asset=p["asset"], since=p["since"]
        )
    return text + "\n" + _("See /rates; /rates set ASSET USD sets a manual price.")


notice_texts.register("prices_stale", _stale_notice)
errors.register("bad_price", __("“{value}” is not a price: write USD per coin, like 65000 or 0.1234."))


def _age(now: datetime, when: datetime | None) -> str:
    return (
        _("never")
        if when is None
        else _("{wait} ago").format(wait=wait_text(int((now - when).total_seconds())))
    )


def _row_line(row: PriceRow, now: datetime) -> str:
    line = f"  {row.source}: {price_text(row.price) if row.price is not None else '—'} ({_age(now, row.fetched_at)})"
    if row.held_price is not None:
        line += " " + _("held back: {price} ({age})").format(
            price=price_text(row.held_price), age=_age(now, row.held_at)
        )
    return line


async def cmd_rates(
    message: Message, command: CommandObject, user: User, db: Database, params: Params
) -> None:
    args = words(command)
    if args and args[0].lower() == "set":
        await set_rate(message, args[1:], user, db)
        return
    if args:
        await message.answer(_("Usage: /rates, or /rates set ASSET USD (USD per coin; off clears it)"))
        return
    await params.refresh(db)
    policy = policy_for(params)
    now = utcnow()
    rep = await db.read(rates_report)
    lines = [_("<b>Rates</b> (USD per coin; fresh for {wait})").format(wait=wait_text(policy.max_age))]
    for asset in MARKET_ASSETS + tuple(sorted(ADMIN_PRICED)):
        p = price_of(rep.rows, asset, now, policy.max_age, policy.dust_rate)
        in_force = (
            _("{price} ({origin})").format(price=price_text(p.usd), origin=p.origin) if p else _("paused")
        )
        lines.append(f"<b>{asset}</b>: {in_force}")
        lines += [_row_line(r, now) for r in rep.rows if r.asset == asset and r.source != MANUAL]
        lines += [
            "  " + _("manual: {price}").format(price=price_text(r.price))
            for r in rep.rows
            if r.asset == asset and r.source == MANUAL and r.price is not None
        ]
    lines.append("")
    for s in rep.sources:
        line = _("{source}: last poll {age}").format(source=s.source, age=_age(now, s.polled_at))
        if s.error:
            line += " · " + _("error: {error}").format(error=html.escape(s.error))
        if s.retry_at is not None and s.retry_at > now:
            line += " · " + _("next try in {wait}").format(
                wait=wait_text(int((s.retry_at - now).total_seconds()))
            )
        lines.append(line)
    await message.answer("\n".join(lines))


async def set_rate(message: Message, args: list[str], user: User, db: Database) -> None:
    if len(args) != 2:
        await message.answer(_("Usage: /rates set ASSET USD, e.g. /rates set BTC 65000 (off clears it)"))
        return
    raw = args[0].strip().upper()
    if raw in NON_SWAPPABLE:
        await message.answer(_("{asset} is not swapped, so it has no rate.").format(asset=html.escape(raw)))
        return
    asset = get_asset(raw).code
    if asset in ADMIN_PRICED:
        await message.answer(
            _("{asset}'s rate is the setting swap.rate.{asset}: use /set.").format(asset=asset)
        )
        return
    usd = None if args[1].lower() == "off" else parse_price(args[1])
    await db.write(set_manual_price, asset, usd, admin_id=user.id)
    if usd is None:
        await message.answer(_("Manual price of {asset} cleared.").format(asset=asset))
    else:
        await message.answer(
            _("Manual price of {asset}: {price} USD, used only while every source is stale.").format(
                asset=asset, price=price_text(usd)
            )
        )


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.filter(IsAdmin())
    routes.message.register(cmd_rates, Command("rates"))
    return routes
