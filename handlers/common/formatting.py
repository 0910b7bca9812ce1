"""Numbers as users read them, in their language (amounts: handlers.common.i18n.amount)."""

from __future__ import annotations

from handlers.common.i18n import _


def wait_text(seconds: int) -> str:
    """A waiting time, rounded up: '45 s', '23 min', '1 h', '1 h 31 min'."""
    seconds = max(1, int(seconds))
    if seconds < 60:
        return _("{n} s").format(n=seconds)
    minutes = -(-seconds // 60)
    if minutes < 60:
        return _("{n} min").format(n=minutes)
    if minutes % 60 == 0:
        return _("{h} h").format(h=minutes // 60)
    return _("{h} h {m} min").format(h=minutes // 60, m=minutes % 60)


def count_of(n: int, one: str, many: str) -> str:
    """``one`` for 1, ``many`` (with {n}) otherwise: '1 withdrawal', '3 withdrawals' (both translated
    by the caller; a language with more forms words ``many`` so that it fits every number)."""
    return one if n == 1 else many.format(n=n)


def withdrawals_count(n: int) -> str:
    return count_of(n, _("1 withdrawal"), _("{n} withdrawals"))


def percent(basis_points: int) -> str:
    """Basis points as a percentage without trailing zeros: 9800 -> '98', 1050 -> '10.5', 1 -> '0.01'."""
    whole, hundredths = divmod(basis_points, 100)
    return f"{whole}.{hundredths:02d}".rstrip("0").rstrip(".")
