"""Numbers as users read them, in their language (amounts: handlers.common.i18n.amount)."""

from __future__ import annotations

from handlers.common.i18n import _


def wait_text(seconds: int) -> str:
    """A waiting time, rounded up: '45 s', '23 min', '1 h 0 min'."""
    seconds = max(1, int(seconds))
    if seconds < 60:
        return _("{n} s").format(n=seconds)
    minutes = -(-seconds // 60)
    if minutes < 60:
        return _("{n} min").format(n=minutes)
    return _("{h} h {m} min").format(h=minutes // 60, m=minutes % 60)


def percent(basis_points: int) -> str:
    """Basis points as a percentage without trailing zeros: 9800 -> '98', 1050 -> '10.5', 1 -> '0.01'."""
    whole, hundredths = divmod(basis_points, 100)
    return f"{whole}.{hundredths:02d}".rstrip("0").rstrip(".")
