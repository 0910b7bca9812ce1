"""/owner: faucet owners register sites, get API keys, fund escrow, set caps and IPs.
(Users' payout addresses, which sites pay to, live in /address: handlers/cashout/addresses.py.)"""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.config import Settings
from core.earn import sites as faucet_sites
from core.errors import DomainError, InvalidParam
from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import get_asset
from core.platform.db import Database
from core.platform.params import Param, Params
from handlers.common import errors, labels
from handlers.common.args import row_id, words
from handlers.common.data import shown
from handlers.common.formatting import wait_text
from handlers.common.i18n import _, __, amount
from handlers.common.keys import update_key
from handlers.common.menu import MAX_ID
from handlers.common.private import private_chat_only

# Only the syntax ("5m", "90s", "1h"); core checks the range and says so in the site's terms.
_TIMER = Param("owner.timer", "5m", "duration")

labels.register(faucet_sites.CODE, __("Payment from a faucet site"))
labels.register(faucet_sites.CODE_REFERRAL, __("Referral payment from a faucet site"))
labels.register(faucet_sites.CODE_FUND, __("Faucet site funding"))
labels.register(faucet_sites.CODE_RETURN, __("Returned from a faucet site's escrow"))
errors.register("site_unknown", __("You have no faucet site #{id}. Send /owner to see yours."))
errors.register("site_bad_name", __("The site name must be 1 to 64 characters."))
errors.register("site_bad_url", __("The site URL must start with http:// or https://."))
errors.register(
    "site_bad_terms", __("The reward must be positive and the timer between 1 minute and 7 days.")
)
errors.register("site_bad_ip", __("“{ip}” is not an IP address."))
errors.register("site_limit", __("You can register at most {limit} sites."))
errors.register("site_retired", __("Site #{id} was removed."))
errors.register(
    "site_escrow_short",
    lambda e: _("Site #{id} has only {available} available in its escrow.").format(
        id=e.params["id"], available=amount(int(e.params["available"]), str(e.params["asset"]))
    ),
)
errors.register("address_taken", __("That address is already linked to another account."))
errors.register("too_many_links", __("You can link at most {limit} addresses."))

USAGE = __(
    "<b>Faucet owner</b>\n"
    "/owner add NAME URL ASSET REWARD TIMER: register a site (e.g. /owner add Drip https://drip.example BTC 0.0000001 5m)\n"
    "/owner fund ID AMOUNT: move money from your balance to the site's escrow\n"
    "/owner key ID: a new API key (the old one stops working)\n"
    "/owner cap ID AMOUNT: daily send cap (0 removes it)\n"
    "/owner ips ID IP,IP: allowed server IPs (- allows any)\n"
    "/owner payouts ID: recent payouts\n"
    "/owner withdraw ID AMOUNT: move escrow back to your balance\n"
    "/owner remove ID: retire the site and get back what is left\n"
    "API base URL: {base}"
)


class OwnerCB(CallbackData, prefix="ow"):
    site: int


def api_base(settings: Settings) -> str:
    return f"{settings.public_url or ''}/api/v1/"


def timer_of(text: str) -> int:
    try:
        return int(_TIMER.parse(text))
    except InvalidParam:  # not a duration: the site's terms say what a timer may be
        raise DomainError("site_bad_terms") from None


def site_id(text: str) -> int:
    """The site number typed; -1 (no site has it) when it is not one, so core says so."""
    return row_id(text) or -1


async def cmd_owner(
    message: Message, command: CommandObject, user: User, db: Database, settings: Settings, params: Params
) -> None:
    parts = words(command)
    action = parts[0].lower() if parts else "list"
    handler = ACTIONS.get((action, len(parts)))
    if handler is None:
        await message.answer(str(USAGE).format(base=api_base(settings)))
        return
    await handler(message, parts[1:], user, db, settings, params)


async def owner_list(message, args, user, db, settings, params) -> None:
    mine = await db.read(faucet_sites.sites_of, user.id)
    if not mine:
        await message.answer(str(USAGE).format(base=api_base(settings)))
        return
    lines = [_("<b>Your faucet sites</b>")]
    kb = InlineKeyboardBuilder()
    for site, escrow in mine:
        if not site.active:
            lines.append(
                _("#{id} {name}: removed, escrow {escrow}").format(
                    id=site.id, name=html.escape(site.name), escrow=amount(escrow, site.asset)
                )
            )
            continue
        cap = amount(site.daily_cap, site.asset) if site.daily_cap else _("none")
        lines.append(
            _("#{id} {name}: escrow {escrow}, reward {reward} every {timer}, daily cap {cap}").format(
                id=site.id,
                name=html.escape(site.name),
                escrow=amount(escrow, site.asset),
                reward=amount(site.reward, site.asset),
                timer=wait_text(site.timer),
                cap=cap,
            )
        )
        kb.button(text=_("📊 #{id} payouts").format(id=site.id), callback_data=OwnerCB(site=site.id))
    kb.adjust(2)
    await message.answer("\n".join(lines), reply_markup=kb.as_markup())


async def owner_add(message, args, user, db, settings, params) -> None:
    name, url, asset_code, reward, timer = args
    asset = get_asset(asset_code)
    site, key = await db.write(
        faucet_sites.add_site,
        owner_id=user.id,
        name=name,
        url=url,
        asset=asset.code,
        reward=parse_amount(reward, asset),
        timer=timer_of(timer),
        max_sites=params.get("faucet_api.max_sites"),
    )
    await message.answer(
        _(
            "Site #{id} registered. Your API key (shown only now, keep it secret):\n<code>{key}</code>\n"
            "Use it with any FaucetPay script by changing its API base URL to {base}\n"
            "Fund the site with /owner fund {id} AMOUNT."
        ).format(id=site.id, key=key, base=api_base(settings))
    )


async def owner_fund(message, args, user, db, settings, params) -> None:
    site = await db.read(faucet_sites.get_site, site_id(args[0]), user.id)
    value = parse_amount(args[1], get_asset(site.asset))
    key = update_key(message, "owner", "fund")
    t = await db.write(faucet_sites.fund_site, user.id, site.id, value, key)
    await message.answer(
        _("Moved {amount} to the escrow of site #{id}.").format(amount=amount(t.amount, t.asset), id=site.id)
    )


async def owner_withdraw(message, args, user, db, settings, params) -> None:
    site = await db.read(faucet_sites.get_site, site_id(args[0]), user.id)
    value = parse_amount(args[1], get_asset(site.asset))
    key = update_key(message, "owner", "withdraw")
    t = await db.write(faucet_sites.withdraw_escrow, user.id, site.id, value, key)
    await message.answer(
        _("Returned {amount} from the escrow of site #{id} to your balance.").format(
            amount=amount(t.amount, t.asset), id=site.id
        )
    )


async def owner_remove(message, args, user, db, settings, params) -> None:
    key = update_key(message, "owner", "remove")
    done = await db.write(faucet_sites.remove_site, user.id, site_id(args[0]), key)
    lines = [
        _("Site #{id} is removed: its API key no longer works and it left /faucets.").format(id=done.site.id)
    ]
    if done.returned:
        lines.append(
            _("Returned {amount} to your balance.").format(amount=amount(done.returned, done.site.asset))
        )
    else:
        lines.append(_("Nothing was left in its escrow."))
    if done.held:
        lines.append(
            _(
                "{amount} is still held by payments on their way; take it later with /owner withdraw {id} AMOUNT."
            ).format(amount=amount(done.held, done.site.asset), id=done.site.id)
        )
    await message.answer("\n".join(lines))


async def owner_key(message, args, user, db, settings, params) -> None:
    key = await db.write(faucet_sites.rotate_key, user.id, site_id(args[0]))
    await message.answer(
        _(
            "New API key for site #{id} (shown only now):\n<code>{key}</code>\nThe old key stops working within seconds."
        ).format(id=site_id(args[0]), key=key)
    )


async def owner_cap(message, args, user, db, settings, params) -> None:
    site = await db.read(faucet_sites.get_site, site_id(args[0]), user.id)
    value = 0 if args[1].strip() == "0" else parse_amount(args[1], get_asset(site.asset))
    await db.write(faucet_sites.set_cap, user.id, site.id, value)
    text = (
        _("Site #{id} may now send at most {amount} a day.").format(
            id=site.id, amount=amount(value, site.asset)
        )
        if value
        else _("Site #{id} has no daily cap now.").format(id=site.id)
    )
    await message.answer(text)


async def owner_ips(message, args, user, db, settings, params) -> None:
    site = await db.write(faucet_sites.set_ips, user.id, site_id(args[0]), faucet_sites.parse_ips(args[1]))
    ips = ", ".join(sorted(site.ips)) or _("any")
    await message.answer(_("Site #{id} accepts API calls from: {ips}").format(id=site.id, ips=ips))


async def payouts_text(db: Database, user: User, sid: int) -> str:
    site = await db.read(faucet_sites.get_site, sid, user.id)
    rows = await db.read(faucet_sites.recent_payouts, site.id, 15)
    lines = [_("<b>Recent payouts of #{id} {name}</b>").format(id=site.id, name=html.escape(site.name))]
    lines += [f"{p.created_at:%m-%d %H:%M} {amount(p.amount, p.asset)} → {html.escape(p.to)}" for p in rows]
    return "\n".join(lines) if rows else lines[0] + "\n" + _("No payouts yet.")


async def owner_payouts(message, args, user, db, settings, params) -> None:
    await message.answer(await payouts_text(db, user, site_id(args[0])))


async def cb_payouts(query: CallbackQuery, callback_data: OwnerCB, user: User, db: Database) -> None:
    message = shown(query)
    await message.answer(await payouts_text(db, user, callback_data.site))
    await query.answer()


ACTIONS = {
    ("list", 0): owner_list,
    ("list", 1): owner_list,
    ("add", 6): owner_add,
    ("fund", 3): owner_fund,
    ("key", 2): owner_key,
    ("cap", 3): owner_cap,
    ("ips", 3): owner_ips,
    ("payouts", 2): owner_payouts,
    ("withdraw", 3): owner_withdraw,
    ("remove", 2): owner_remove,
}


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_owner, Command("owner"))
    routes.callback_query.register(cb_payouts, OwnerCB.filter((F.site > 0) & (F.site < MAX_ID)))
    return routes
