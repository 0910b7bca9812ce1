"""Admin commands. Only numeric ids in ADMIN_IDS pass, and only in a private chat with the
bot; anyone else (and an admin in a group) gets the reply for an unknown command (the
fallback router), so the commands stay invisible.

Money commands take their idempotency key from the admin's message, so a retried
update moves nothing twice; core writes an audit line with each transfer. Commands that
move money or change settings ask for the admin's 2FA code (handlers.admin.codes).
"""

from __future__ import annotations

import html

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from core import ops
from core.identity import credits, twofa
from core.identity.users import User
from core.money import treasury as admin
from core.money.accounts import FUNDABLE, SYSTEM_ACCOUNTS
from core.money.amounts import parse_amount
from core.money.assets import ASSET_CODES, get_asset
from core.platform import audit, leases
from core.platform.db import Database
from core.platform.params import REGISTRY, Params
from core.platform.schema import utcnow
from handlers.admin.nav import console_keyboard
from handlers.admin.texts import audit_line, setting_line, setting_value
from handlers.common.args import args_of
from handlers.common.filters import IsAdmin
from handlers.common.i18n import _, amount
from handlers.common.keys import update_key


async def cmd_admin(message: Message, user: User, db: Database) -> None:
    """The numbers at a glance, with the console's buttons under them (handlers.admin.console)."""
    await message.answer(await admin_text(db, user), reply_markup=console_keyboard())


async def admin_text(db: Database, user: User) -> str:
    stats = await db.read(admin.stats)
    twofa_on = await db.read(twofa.is_enabled, user.id)
    lines = stats_lines(stats, twofa_on)
    n = await db.read(ops.moderation.counts)
    people = [
        _("Active: {day} in 24 h, {week} in 7 days (not counting who blocked the bot)").format(
            day=n.active_day, week=n.active_week
        ),
        _("Blocked the bot: {count}").format(count=n.blocked),
        _("Banned: {banned} · withdrawals frozen: {frozen} (/user to see one)").format(
            banned=n.banned, frozen=n.frozen
        ),
    ]
    at = lines.index(_("Users: {count}").format(count=stats.users)) + 1
    lines[at:at] = people
    return "\n".join(lines + await job_lines(db))


def stats_lines(stats: admin.Stats, twofa_on: bool) -> list[str]:
    """Users, what is owed to them per coin, and every system account's balance (minus holds)."""
    lines = [_("<b>Dustpan admin</b>"), _("Users: {count}").format(count=stats.users), ""]
    if not twofa_on:
        lines.insert(
            1, _("⚠️ Your 2FA is off: anyone with your Telegram session can move money. Turn it on with /2fa.")
        )
    lines.append(_("<b>Owed to users</b>"))
    lines += [amount(stats.liabilities.get(code, 0), code) for code in ASSET_CODES]
    lines += ["", _("<b>System accounts</b>")]
    for name in SYSTEM_ACCOUNTS:
        # Sub-accounts (owner_escrow:site:12, check_escrow:7, ...) are summed per coin: one line
        # stays one line however many sites or checks there are.
        held: dict[str, tuple[int, int]] = {}
        for owner, asset, bal, hold in stats.system:
            if owner.split(":", 1)[0] == name:
                before = held.get(asset, (0, 0))
                held[asset] = (before[0] + bal, before[1] + hold)
        parts = [
            amount(bal, asset) + (f" (−{amount(hold, asset)})" if hold else "")
            for asset, (bal, hold) in held.items()
        ]
        lines.append(f"{name}: " + (", ".join(parts) if parts else "0"))
    return lines


async def job_lines(db: Database) -> list[str]:
    """Who holds each job's lease (core.platform.leases) and since when; a free one names its last holder."""
    now, lines = utcnow(), ["", _("<b>Jobs</b>")]

    def at(when) -> str:
        return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "?"

    for lease in await db.read(leases.all_leases):
        line = (
            _("{job}: {holder} since {since}, lease until {until}")
            if lease.held(now)
            else _("{job}: free (last run by {holder} since {since})")
        )
        lines.append(
            line.format(
                job=lease.name,
                holder=html.escape(lease.holder),
                since=at(lease.since),
                until=at(lease.expires_at),
            )
        )
    if len(lines) == 2:
        lines.append(_("No job has run yet."))
    return lines


async def cmd_deposit(message: Message, command: CommandObject, user: User, db: Database) -> None:
    args = args_of(command, 3, note=True)
    if args is None:
        await message.answer(
            _("Usage: /deposit AMOUNT ASSET NOTE\nExample: /deposit 0.5 BTC cold wallet top-up")
        )
        return
    asset = get_asset(args[1])
    value = parse_amount(args[0], asset)
    t = await db.write(
        admin.deposit,
        admin_id=user.id,
        asset=asset.code,
        amount=value,
        note=args[2],
        key=update_key(message, "admin", "deposit"),
    )
    await message.answer(
        _("Recorded a deposit of {amount} into the treasury.").format(amount=amount(t.amount, t.asset))
    )


async def cmd_fund(message: Message, command: CommandObject, user: User, db: Database) -> None:
    args = args_of(command, 3)
    if args is None or len(args[2].split()) != 1:
        await message.answer(
            _("Usage: /fund ACCOUNT AMOUNT ASSET\nAccounts: {accounts}").format(accounts=", ".join(FUNDABLE))
        )
        return
    asset = get_asset(args[2])
    value = parse_amount(args[1], asset)
    t = await db.write(
        admin.fund,
        admin_id=user.id,
        account=args[0],
        asset=asset.code,
        amount=value,
        key=update_key(message, "admin", "fund"),
    )
    await message.answer(
        _("Moved {amount} from the treasury to {account}.").format(
            amount=amount(t.amount, t.asset), account=t.credit
        )
    )


async def _user_money(
    message: Message, command: CommandObject, user: User, db: Database, action: str
) -> None:
    args = args_of(command, 4, note=True)
    if args is None:
        await message.answer(
            _(
                "Usage: /{action} USER AMOUNT ASSET REASON\nUSER is a numeric Telegram id or @username."
            ).format(action=action)
        )
        return
    admin_id = user.id
    asset = get_asset(args[2])
    value = parse_amount(args[1], asset)
    use_case = credits.credit_user if action == "credit" else credits.debit_user
    user_id, t = await db.write(
        use_case,
        admin_id=admin_id,
        user_ref=args[0],
        asset=asset.code,
        amount=value,
        reason=args[3],
        key=update_key(message, "admin", action),
    )
    done = (
        _("Credited {amount} to user {user}.")
        if action == "credit"
        else _("Debited {amount} from user {user}.")
    )
    await message.answer(done.format(amount=amount(t.amount, t.asset), user=user_id))


async def cmd_credit(message: Message, command: CommandObject, user: User, db: Database) -> None:
    await _user_money(message, command, user, db, "credit")


async def cmd_debit(message: Message, command: CommandObject, user: User, db: Database) -> None:
    await _user_money(message, command, user, db, "debit")


async def cmd_params(message: Message, command: CommandObject, params: Params) -> None:
    prefix = (command.args or "").strip()
    keys = sorted(k for k in REGISTRY if k.startswith(prefix))
    if not keys:
        await message.answer(_("No settings match."))
        return
    lines = [setting_line(params, k) for k in keys[:80]]
    if len(keys) > 80:
        lines.append(_("… and {n} more: give a longer prefix.").format(n=len(keys) - 80))
    await message.answer("\n".join(lines))


async def cmd_set(message: Message, command: CommandObject, user: User, db: Database, params: Params) -> None:
    args = args_of(command, 2)
    if args is None:
        await message.answer(_("Usage: /set KEY VALUE. See /params for the keys."))
        return
    value = await params.store(db, args[0], args[1], admin_id=user.id)
    await message.answer(_("{key} is now {value}.").format(key=args[0], value=setting_value(args[0], value)))


async def cmd_audit(message: Message, db: Database) -> None:
    lines = [audit_line(a) for a in await db.read(audit.recent, 20)]
    await message.answer("\n".join(lines) or _("Nothing in the audit log yet."))


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.filter(IsAdmin())
    routes.message.register(cmd_admin, Command("admin"))
    routes.message.register(cmd_deposit, Command("deposit"))
    routes.message.register(cmd_fund, Command("fund"))
    routes.message.register(cmd_credit, Command("credit"))
    routes.message.register(cmd_debit, Command("debit"))
    routes.message.register(cmd_params, Command("params"))
    routes.message.register(cmd_set, Command("set"))
    routes.message.register(cmd_audit, Command("audit"))
    return routes
