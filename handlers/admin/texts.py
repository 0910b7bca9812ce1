"""What admins read: settings and audit lines in words and units, not raw integers or dicts.

Amounts show in coin units with the ticker, durations the way an admin types them (``2h``),
shares as percentages; an audit line is a sentence. Every value that came from outside (a
reason, a note, an address) is cut *before* it is HTML-escaped, so a cut never splits an entity.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from core.money.assets import ASSET_CODES
from core.platform.audit import AuditLine
from core.platform.params import REGISTRY, Params
from handlers.common.formatting import percent
from handlers.common.i18n import _, amount

LONGEST = 80  # characters of one outside value in an audit line


def duration(seconds: int) -> str:
    """Seconds the way they are typed: 7200 -> '2h', 90 -> '90s', 0 -> '0s' (the largest unit that is exact)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def setting_value(key: str, value: object) -> str:
    """A setting's value in force, as an admin reads and types it (HTML-escaped)."""
    p = REGISTRY.get(key)
    if p is None or isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, bool):
            return "on" if value else "off"
        return html.escape(str(value))
    if p.kind == "amount" and p.asset:
        return amount(value, p.asset)
    if p.kind == "duration":
        return duration(value)
    if p.kind == "share":
        return f"{percent(value)}%"
    return str(value)


def setting_line(params: Params, key: str) -> str:
    return f"<code>{key}</code> = {setting_value(key, params.get(key))} <i>({params.source(key)})</i>"


def clip(value: object, longest: int = LONGEST) -> str:
    """An outside value, cut to ``longest`` characters (with …) and then escaped."""
    text = " ".join(str(value).split())
    if len(text) > longest:
        text = text[: longest - 1] + "…"
    return html.escape(text)


def _money(d: dict, key: str = "amount") -> str:
    asset, value = d.get("asset"), d.get(key)
    if isinstance(asset, str) and asset in ASSET_CODES and isinstance(value, int):
        return amount(value, asset)
    return clip(value)


def _reason(d: dict) -> str:
    reason = d.get("reason") or d.get("note")
    return ": " + clip(reason) if reason else ""


def _setting(a: AuditLine) -> str:
    return _("set {key} to {value}").format(
        key=f"<code>{clip(a.target)}</code>", value=clip(a.details.get("value"))
    )


_SENTENCES: dict[str, Callable[[AuditLine], str]] = {
    "deposit": lambda a: (
        _("recorded a deposit of {amount} into the treasury").format(amount=_money(a.details))
        + _reason(a.details)
    ),
    "fund": lambda a: _("moved {amount} from the treasury to {account}").format(
        amount=_money(a.details), account=clip(a.target)
    ),
    "credit": lambda a: (
        _("credited {amount} to user {user}").format(amount=_money(a.details), user=clip(a.target))
        + _reason(a.details)
    ),
    "debit": lambda a: (
        _("debited {amount} from user {user}").format(amount=_money(a.details), user=clip(a.target))
        + _reason(a.details)
    ),
    "set_param": _setting,
    "approve_withdrawal": lambda a: _("approved withdrawal #{id}").format(id=clip(a.target)),
    "reject_withdrawal": lambda a: (
        _("rejected withdrawal #{id}").format(id=clip(a.target)) + _reason(a.details)
    ),
    "batch_sent": lambda a: _("marked payout batch #{id} sent").format(id=clip(a.target)),
    "batch_failed": lambda a: (
        _("marked payout batch #{id} failed").format(id=clip(a.target)) + _reason(a.details)
    ),
    "twofa_on": lambda a: _("turned 2FA on"),
    "twofa_off": lambda a: _("turned 2FA off"),
    "address_saved": lambda a: _("saved the {asset} address {address} as {label}").format(
        asset=clip(a.details.get("asset")), address=clip(a.details.get("address")), label=clip(a.target)
    ),
    "address_claimed": lambda a: _("took over the {asset} address {address} with a signature").format(
        asset=clip(a.details.get("asset")), address=clip(a.details.get("address"))
    ),
    "referral_skipped": lambda a: _("skipped a referral commission of {amount} to {account}").format(
        amount=_money(a.details), account=clip(a.target)
    ),
    "site_withdraw": lambda a: _("took {amount} out of {account}").format(
        amount=_money(a.details), account=clip(a.target)
    ),
    "site_remove": lambda a: _("removed the site of {account}; {amount} went back").format(
        account=clip(a.target), amount=_money(a.details, "returned")
    ),
    "crash_stuck": lambda a: (
        _("crash round #{id} got stuck").format(id=clip(a.target))
        + (": " + clip(a.details["error"]) if a.details.get("error") else "")
    ),
    "crash_chain": lambda a: _("created crash chain #{id}").format(id=clip(a.target)),
    "crash_salt": lambda a: _("set the salt of crash chain #{id}").format(id=clip(a.target)),
}


def _generic(a: AuditLine) -> str:
    """An action this module has no sentence for (a newer feature's): its name and its details."""
    parts = [clip(a.action.replace("_", " "))]
    if a.target:
        parts.append(clip(a.target))
    details = dict(a.details)
    if "amount" in details and "asset" in details:
        parts.append(_money(details))
        details.pop("amount"), details.pop("asset")
    parts += [
        f"{clip(k.replace('_', ' '), 24)} {clip(v)}"
        for k, v in sorted(details.items())
        if v not in (None, "")
    ]
    return ", ".join(parts)


def audit_line(a: AuditLine) -> str:
    """'12-06 22:41 · 9001: credited 0.00010000 BTC to user 111: welcome'."""
    who = str(a.actor) if a.actor is not None else _("system")
    sentence = _SENTENCES.get(a.action, _generic)(a)
    return f"{a.at:%m-%d %H:%M} · {who}: {sentence}"
