"""/reserves: per coin, what users are owed next to what the platform holds, and when each was taken.

Admins add to it in their private chat: ``/reserves add ASSET ADDRESS AMOUNT [LABEL]`` declares a
cold-storage address, ``/reserves set ASSET ADDRESS AMOUNT`` enters its balance now. Both are
audited and, with 2FA on, need the admin's code (handlers.admin.codes.MIXED).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import get_asset
from core.platform.db import Database
from core.platform.params import Params
from core.trust import reserves
from handlers.common import errors
from handlers.common import notices as notice_texts
from handlers.common.data import AdminIds
from handlers.common.i18n import _, __, amount
from handlers.common.menu import back_to_menu

errors.register(
    "already_declared", __("That address is already declared. Use /reserves set to enter its balance.")
)
errors.register("not_declared", __("That address is not declared. Use /reserves add first."))
errors.register("negative_reserve", __("A reserve cannot be negative."))
errors.register("label_too_long", __("The label is too long (at most {limit} characters)."))

notice_texts.register(
    "hot_wallet_short",
    lambda p: _(
        "🔥 The {asset} hot wallet ({backend}) holds {hot}, but approved withdrawals need {need}. "
        "Move at least {short} from cold storage; {asset} payouts wait until then."
    ).format(
        asset=p["asset"],
        backend=html.escape(str(p["backend"])),
        hot=amount(int(p["hot"]), p["asset"]),
        need=amount(int(p["need"]), p["asset"]),
        short=amount(int(p["short"]), p["asset"]),
    ),
)


_ZERO = re.compile(r"0+(?:[.,]0*)?", re.ASCII)


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else _("never")


def _ratio(bp: int | None) -> str:
    return f"{bp // 100}.{bp % 100:02d}%" if bp is not None else "—"


def reserves_text(coins: list[reserves.CoinReserves]) -> str:
    if not coins:
        return _("🏦 <b>Reserves</b>\nNothing published yet: no proof of liabilities and no declared wallet.")
    lines = [_("🏦 <b>Reserves against liabilities</b>")]
    for c in coins:
        owed = amount(c.liabilities, c.asset) if c.liabilities is not None else "—"
        lines += [
            "",
            f"<b>{c.asset}</b>",
            _("Owed to users: {owed} (proof of {when})").format(owed=owed, when=_when(c.liabilities_at)),
            _("Hot wallet: {hot} (read {when})").format(hot=amount(c.hot, c.asset), when=_when(c.hot_at)),
            _("Cold storage: {cold} (entered {when})").format(
                cold=amount(c.cold, c.asset), when=_when(c.cold_at)
            ),
            _("Reserves / liabilities: {ratio}").format(ratio=_ratio(c.ratio_bp)),
        ]
    lines += ["", _("Check your own balance in the liabilities with /proof.")]
    return "\n".join(lines)


USAGE = __(
    "Usage:\n/reserves add ASSET ADDRESS AMOUNT [LABEL] — declare a cold-storage address\n"
    "/reserves set ASSET ADDRESS AMOUNT — enter its balance now"
)


async def cmd_reserves(
    message: Message, command: CommandObject, user: User, db: Database, params: Params, admin_ids: AdminIds
) -> None:
    words = (command.args or "").split()
    action = words[0].lower() if words else ""
    is_admin = user.id in admin_ids and message.chat.type == "private"
    if action not in ("add", "set") or not is_admin:
        await message.answer(reserves_text(await db.read(reserves.overview)), reply_markup=back_to_menu())
        return
    if len(words) < 4 or (action == "set" and len(words) != 4):
        await message.answer(str(USAGE))
        return
    asset = get_asset(words[1])
    value = 0 if _ZERO.fullmatch(words[3]) else parse_amount(words[3], asset)  # an emptied wallet is 0
    network = str(params.get("cashout.network"))
    now = datetime.now(UTC)
    if action == "add":
        label = " ".join(words[4:]) or None
        w = await db.write(reserves.declare_cold, user.id, asset.code, words[2], value, label, now, network)
        text = _("Declared cold wallet {address} holding {amount}.")
    else:
        w = await db.write(reserves.set_cold, user.id, asset.code, words[2], value, now, network)
        text = _("Cold wallet {address} now holds {amount}.")
    await message.answer(
        text.format(address=f"<code>{html.escape(w.address)}</code>", amount=amount(w.balance, w.asset))
    )


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(cmd_reserves, Command("reserves"))
    return routes
