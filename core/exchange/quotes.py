"""The arithmetic of a swap, pure: what a user receives for an amount at two USD prices.

Prices are USD per whole coin (``Decimal``, exact: they were parsed from decimal strings);
amounts are ``int`` minor units. The mid rate converts ``amount_in`` minor units of the coin
given into ``gross`` = in * p_from * unit_to / (p_to * unit_from) minor units of the coin
received, computed as an exact fraction. The spread (basis points) and a flat fee (minor units
of the coin received) come off it; every rounding is down, in the platform's favour:

    out    = floor(gross * (1 - spread)) - fee      (what the user receives)
    spread = floor(gross) - floor(gross * (1 - spread))
    out + spread + fee = floor(gross)               (what liquidity pays)

so the user receives at most the exact amount and less than one minor unit below it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from core.money import get_asset

BP = 10_000

# Why a sweep leg is not swapped.
SKIP_NO_PRICE = "no_price"
SKIP_BELOW_MIN = "below_min"
SKIP_TOO_SMALL = "too_small"
SKIP_DAILY_LIMIT = "daily_limit"


@dataclass(frozen=True, slots=True)
class Leg:
    """One conversion of ``amount_in`` of ``frm`` into ``amount_out`` of ``to``.

    ``p_from``/``p_to``: the USD prices used, as decimal strings. ``skip``: why a sweep leg is
    left out (its amounts are then only shown), None for a leg that moves money.
    """

    frm: str
    to: str
    amount_in: int
    amount_out: int
    spread: int
    fee: int
    spread_bp: int
    p_from: str
    p_to: str
    skip: str | None = None

    @property
    def paid_by_liquidity(self) -> int:
        return self.amount_out + self.spread + self.fee

    def rate(self) -> Fraction:
        """Whole coins of ``to`` per whole coin of ``frm`` at the mid price (before the spread)."""
        return Fraction(Decimal(self.p_from)) / Fraction(Decimal(self.p_to))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Leg:
        return cls(**data)


def gross_of(amount_in: int, frm: str, to: str, p_from: Decimal, p_to: Decimal) -> Fraction:
    """The exact amount of ``to`` (minor units, a fraction) that ``amount_in`` of ``frm`` is worth."""
    a, b = get_asset(frm), get_asset(to)
    return Fraction(amount_in) * Fraction(p_from) * b.unit / (Fraction(p_to) * a.unit)


def exact_out(
    amount_in: int, frm: str, to: str, p_from: Decimal, p_to: Decimal, spread_bp: int, fee: int
) -> Fraction:
    """What the user would receive with no rounding at all (the property test's yardstick)."""
    return gross_of(amount_in, frm, to, p_from, p_to) * (BP - spread_bp) / BP - fee


def price_leg(
    amount_in: int, frm: str, to: str, p_from: Decimal, p_to: Decimal, spread_bp: int, fee: int
) -> Leg:
    """Price one conversion. ``amount_out`` may come out zero or negative (an amount too small
    for the fee): the caller refuses or skips it."""
    if p_from <= 0 or p_to <= 0:
        raise ValueError("prices must be positive")
    if not 0 <= spread_bp < BP or fee < 0 or amount_in <= 0:
        raise ValueError("bad spread, fee or amount")
    gross = gross_of(amount_in, frm, to, p_from, p_to)
    whole = gross.__floor__()
    after_spread = (gross * (BP - spread_bp) / BP).__floor__()
    return Leg(
        frm=frm,
        to=to,
        amount_in=amount_in,
        amount_out=after_spread - fee,
        spread=whole - after_spread,
        fee=fee,
        spread_bp=spread_bp,
        p_from=str(p_from),
        p_to=str(p_to),
    )


def moved_beyond(old: Fraction, new: Fraction, limit_bp: int) -> bool:
    """Did ``new`` move away from ``old`` by more than ``limit_bp`` basis points of ``old``?"""
    return abs(new - old) * BP > old * limit_bp
