"""/offers (menu "🎯 Offers"): offerwalls as URL buttons with the user's sub id, held offers
and debts; /offerwall: the admin's walls (add, list, off, on, ips, hold, remove, trust)."""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.config import Settings
from core.earn import offers
from core.identity.users import User, find_user
from core.platform.db import Database
from handlers.common import errors, labels
from handlers.common import notices as notice_texts
from handlers.common.data import shown
from handlers.common.filters import IsAdmin
from handlers.common.i18n import _, __, amount
from handlers.common.menu import MenuCB, back_button
from handlers.common.private import private_chat_only
from handlers.security.twofa import delete_quietly

labels.register(offers.CODE, __("Offer completed"))
labels.register(offers.CODE_REVERSAL, __("Offer reversed by the network"))
labels.register(offers.CODE_REFERRAL_REVERSAL, __("Referral commission taken back (offer reversed)"))
labels.register("debt_repaid", __("Debt repaid"))

for _reason, _text in (
    ("bad_network", __("Unknown network. Use one of: cpx, bitlabs, lootably, torox, ayet, notik, timewall.")),
    ("bad_wall_name", __("A wall name is 1 to 32 of a-z, 0-9, _ and -.")),
    ("wall_exists", __("A wall named {name} exists already.")),
    ("unknown_wall", __("There is no wall named {name}. Send /offerwall list.")),
    ("bad_app_id", __("The app id must be 1 to 100 characters without spaces.")),
    ("bad_secret", __("The secret must be 1 to 200 printable characters.")),
    ("bad_rate", __("The rate must be a positive number like 0.00001.")),
    ("bad_ips", __("Give IP addresses or networks separated by commas, or - to allow any.")),
    ("bad_hold", __("The hold amount must be a plain amount of the wall's coin, like 0.5, or 0.")),
):
    errors.register(_reason, _text, kind=offers.OfferwallError)


def _notice(p: dict[str, dict[str, int]]) -> str:
    lines = [_("🎯 <b>Offers update</b>")]
    for kind, text in (
        ("credited", _("Credited: {amounts}")),
        ("held", _("On hold: {amounts} (see /offers for the release dates)")),
        ("reversed", _("Reversed by the network: {amounts}")),
    ):
        got = p.get(kind) or {}
        if got:
            lines.append(text.format(amounts=", ".join(amount(int(v), a) for a, v in sorted(got.items()))))
    return "\n".join(lines)


notice_texts.register(offers.NOTICE, _notice)

USAGE = __(
    "Usage:\n/offerwall add NETWORK NAME APP_ID SECRET ASSET RATE\n/offerwall list\n"
    "/offerwall off NAME · /offerwall on NAME · /offerwall remove NAME\n"
    "/offerwall ips NAME IP,IP,... (- allows any)\n/offerwall hold NAME AMOUNT\n/offerwall trust USER"
)


async def offers_view(db: Database, user_id: int, secret_key: str) -> tuple[str, InlineKeyboardMarkup]:
    links = await db.write(offers.open_walls, user_id, secret_key)
    mine = await db.read(offers.my_offers, user_id)
    kb = InlineKeyboardBuilder()
    if links:
        lines = [
            _(
                "🎯 <b>Offers and surveys</b>: complete tasks on a wall below and earn coins. "
                "Large credits, and those of new users, are held for a few days before they reach your balance."
            )
        ]
        for link in links:
            kb.button(text=f"🎯 {link.name} ({link.asset})", url=link.url)
    else:
        lines = [_("No offerwalls are open right now. Check back later.")]
    for h in mine.held:
        lines.append(
            _("⏳ Held: {amount} from {wall} until {date} UTC").format(
                amount=amount(h.amount, h.asset),
                wall=html.escape(h.wall),
                date=f"{h.release_at:%Y-%m-%d %H:%M}",
            )
        )
    for d in mine.debts:
        lines.append(
            _("⚠️ You owe {amount} for reversed offers; it is repaid first from your next earnings.").format(
                amount=amount(d.amount, d.asset)
            )
        )
    kb.adjust(1)
    kb.row(back_button())
    return "\n".join(lines), kb.as_markup()


async def cmd_offers(message: Message, user: User, db: Database, settings: Settings) -> None:
    text, kb = await offers_view(db, user.id, settings.secret_key)
    await message.answer(text, reply_markup=kb)


async def cb_offers(query: CallbackQuery, user: User, db: Database, settings: Settings) -> None:
    message = shown(query)
    text, kb = await offers_view(db, user.id, settings.secret_key)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


def _wall_line(w: offers.Wall) -> str:
    state = _("on") if w.enabled else _("off")
    return _(
        "{name} ({network}, app {app}): 1 point = {rate} {asset}; hold above {hold}; IPs {ips}; {state}"
    ).format(
        name=html.escape(w.name),
        network=w.network,
        app=html.escape(w.app_id),
        rate=w.rate_text,
        asset=w.asset,
        hold=amount(w.hold_above, w.asset),
        ips=html.escape(",".join(w.ips)) or _("any"),
        state=state,
    )


async def cmd_offerwall(
    message: Message, command: CommandObject, user: User, db: Database, settings: Settings
) -> None:
    words = (command.args or "").split()
    action = words[0].lower() if words else ""
    if action == "add" and len(words) == 7:
        await delete_quietly(message)  # it holds the wall's secret
        _a, network, name, app_id, secret, asset, rate = words
        wall = await db.write(
            offers.add_wall,
            admin_id=user.id,
            network=network,
            name=name,
            app_id=app_id,
            secret=secret,
            asset=asset,
            rate=rate,
            secret_key=settings.secret_key,
        )
        base = (settings.public_url or "https://YOUR-PUBLIC-URL").rstrip("/")
        await message.answer(
            _(
                "Wall added: {line}\nPostback URL for the network's dashboard: {url} (see the README for its parameters)."
            ).format(line=_wall_line(wall), url=html.escape(f"{base}/postback/{wall.name}"))
        )
        return
    if action == "list" and len(words) == 1:
        walls = await db.read(offers.list_walls)
        await message.answer("\n".join(_wall_line(w) for w in walls) or _("No walls yet."))
        return
    if action in ("off", "on", "remove") and len(words) == 2:
        if action == "remove":
            wall = await db.write(offers.remove_wall, user.id, words[1])
            await message.answer(
                _("Wall {name} removed: its postbacks are refused from now on.").format(name=wall.name)
            )
            return
        wall = await db.write(offers.set_enabled, user.id, words[1], action == "on")
        await message.answer(_wall_line(wall))
        return
    if action == "ips" and len(words) == 3:
        await message.answer(_wall_line(await db.write(offers.set_ips, user.id, words[1], words[2])))
        return
    if action == "hold" and len(words) == 3:
        await message.answer(_wall_line(await db.write(offers.set_hold, user.id, words[1], words[2])))
        return
    if action == "trust" and len(words) == 2:
        who = await db.read(find_user, words[1])
        t = await db.read(offers.trust_of, who.id)
        await message.answer(
            _("Offer trust of {user}: {score} (released {released}, reversed {reversed}).").format(
                user=who.id, score=t.score, released=t.released, reversed=t.reversed
            )
        )
        return
    await message.answer(str(USAGE))


def router() -> Router:
    # The buttons carry the user's sub id: in a group, whoever tapped one would earn for them.
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_offers, Command("offers"))
    routes.callback_query.register(cb_offers, MenuCB.filter(F.to == "offers"))
    routes.message.register(cmd_offerwall, Command("offerwall"), IsAdmin())
    return routes
