"""What /user shows an admin: one screen about one user (core.ops.moderation.card), with the
Ban / Unban and Freeze withdrawals / Unfreeze buttons."""

from __future__ import annotations

import html
import re
from datetime import datetime

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.ops.moderation import Card
from core.play.stakes import Limits
from handlers.admin.texts import audit_line, clip
from handlers.common.i18n import _, amount
from handlers.common.labels import label

# A numeric Telegram id, or a Telegram @username (5-32 letters, digits, underscores; older
# accounts may have 4). Anything else is refused before a lookup.
_ID = re.compile(r"[1-9][0-9]{0,18}", re.ASCII)
_NAME = re.compile(r"@?[A-Za-z][A-Za-z0-9_]{3,31}", re.ASCII)


class UserCB(CallbackData, prefix="usr"):
    action: str  # ban | unban | freeze | unfreeze
    id: int


def parse_ref(text: str | None) -> str | None:
    """``text`` as a user reference (``123`` or ``@name``), or None when it cannot be one."""
    ref = (text or "").strip()
    if _ID.fullmatch(ref) and int(ref) < 2**63:
        return ref
    if _NAME.fullmatch(ref):
        return ref if ref.startswith("@") else "@" + ref
    return None


def bad_ref_text() -> str:
    return _("That is not a user: give a numeric Telegram id (like 123456789) or an @username.")


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "?"


def _flags(c: Card) -> list[str]:
    lines = []
    if c.banned_at is not None:
        lines.append(
            _("⛔ Banned since {since} by {admin}: {reason}").format(
                since=_when(c.banned_at), admin=c.banned_by, reason=clip(c.ban_reason or "")
            )
        )
    if c.frozen_at is not None:
        reason = clip(c.freeze_reason) if c.freeze_reason else _("no reason given")
        lines.append(
            _("🧊 Withdrawals frozen since {since} by {admin}: {reason}").format(
                since=_when(c.frozen_at), admin=c.frozen_by, reason=reason
            )
        )
    if not lines:
        lines.append(_("✅ Not banned, withdrawals open."))
    if c.blocked_bot:
        lines.append(_("🚫 Blocked the bot: counted as inactive until they write again."))
    return lines


def _limits(c: Card, limits: Limits, trust: tuple[int, int]) -> list[str]:
    lines = [_("2FA: on") if c.twofa_on else _("2FA: off")]
    lines.append(
        _("Offers: {released} released, {reversed} reversed.").format(released=trust[0], reversed=trust[1])
    )
    if limits.excluded_until is not None:
        lines.append(_("Games: self-excluded until {until}.").format(until=_when(limits.excluded_until)))
    for asset, (daily, _changed) in sorted(limits.daily.items()):
        lines.append(_("Daily loss limit: {amount}.").format(amount=amount(daily, asset)))
    return lines


def card_text(c: Card, limits: Limits, trust: tuple[int, int]) -> str:
    u = c.user
    name = " ".join(part for part in (f"@{u.username}" if u.username else "", clip(u.first_name, 40)) if part)
    lines = [
        _("<b>User {id}</b> {name}").format(id=u.id, name=name).strip(),
        _("Language: {language} · joined {joined} · last seen {seen}").format(
            language=u.locale, joined=_when(c.user.created_at), seen=_when(c.seen_at)
        ),
        *_flags(c),
        "",
    ]
    lines += _limits(c, limits, trust)
    if c.referrer is not None:
        lines.append(_("Invited by {user}.").format(user=c.referrer))
    lines.append(_("Invited {count} ({active} active).").format(count=c.invited, active=c.active_referrals))
    lines += ["", _("<b>Balances</b>")]
    for b in c.balances:
        held = _(" (held: {amount})").format(amount=amount(b.held, b.asset)) if b.held else ""
        lines.append(amount(b.balance, b.asset) + held)
    if not c.balances:
        lines.append(_("Nothing yet."))
    if c.held:
        lines.append(
            _("Withdrawals waiting for an admin (/payouts): {ids}").format(
                ids=", ".join(f"#{i}" for i in c.held)
            )
        )
    if c.earned:
        lines += ["", _("<b>Came in, by source</b>")]
        lines += [f"{label(code)}: {amount(total, asset)}" for code, asset, total in c.earned]
    if c.recent:
        lines += ["", _("<b>Recent transfers</b>")]
        lines += [
            f"{m.created_at:%m-%d %H:%M} {'+' if m.amount > 0 else '−'}{amount(abs(m.amount), m.asset)} · "
            f"{html.escape(label(m.code))}"
            for m in c.recent
        ]
    if c.audit:
        lines += ["", _("<b>Audit</b>")]
        lines += [audit_line(a) for a in c.audit]
    return "\n".join(lines)


def card_markup(c: Card) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    uid = c.user.id
    if c.banned_at is None:
        kb.button(text=_("⛔ Ban"), callback_data=UserCB(action="ban", id=uid))
    else:
        kb.button(text=_("✅ Unban"), callback_data=UserCB(action="unban", id=uid))
    if c.frozen_at is None:
        kb.button(text=_("🧊 Freeze withdrawals"), callback_data=UserCB(action="freeze", id=uid))
    else:
        kb.button(text=_("🔓 Unfreeze"), callback_data=UserCB(action="unfreeze", id=uid))
    kb.adjust(2)
    return kb.as_markup()
