"""Parsing and formatting amounts at the edges. Inside, an amount is an ``int``.

Parsing is strict so that what a user types is what moves: plain decimal digits
(ASCII only), one decimal separator ("." or "," - four of our five languages write
a comma), at most the asset's decimals. Anything else is refused with a reason a
handler can translate; nothing is ever rounded.
"""

from __future__ import annotations

import re
from decimal import Decimal

from core.errors import InvalidAmount
from core.money.assets import Asset

MAX_INPUT = 40
# Whole coins above this are certainly a typo.
MAX_WHOLE_DIGITS = 12
# The largest amount anything holds or moves, in minor units: well inside BIGINT (9.2e18),
# so a sum of a few never overflows. 12 whole digits of an 8-decimal coin pass the digit
# check yet exceed it, hence both checks.
MAX_AMOUNT = 10**18
# The most an account may hold (balance plus what is on its way in), and the most the world
# account may owe (it is the only one below zero). Money only moves between accounts, so every
# other balance then sums to at most this, and no sum the ledger takes can pass a BIGINT.
MAX_BALANCE = MAX_AMOUNT
_PLAIN = re.compile(r"(?P<int>[0-9]*)(?:[.,](?P<frac>[0-9]*))?", re.ASCII)


def parse_amount(text: str, asset: Asset) -> int:
    """Parse ``text`` as a positive amount of ``asset``; return minor units.

    Raises InvalidAmount with reason: empty, too_long, negative, not_a_number,
    exponent, too_many_decimals, zero, too_large.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidAmount("empty")
    s = text.strip().replace("\u00a0", "").replace(" ", "")
    if len(s) > MAX_INPUT:
        raise InvalidAmount("too_long")
    if s.startswith("-"):
        raise InvalidAmount("negative")
    if s.startswith("+"):
        s = s[1:]
    m = _PLAIN.fullmatch(s)
    if m is None or not (m["int"] or m["frac"]):
        if re.fullmatch(r"[0-9.,]*[eE][+-]?[0-9]+", s, re.ASCII):
            raise InvalidAmount("exponent")
        raise InvalidAmount("not_a_number")
    whole, frac = m["int"] or "0", m["frac"] or ""
    frac = frac.rstrip("0")
    if len(frac) > asset.decimals:
        raise InvalidAmount("too_many_decimals", decimals=asset.decimals, asset=asset.code)
    if len(whole.lstrip("0")) > MAX_WHOLE_DIGITS:
        raise InvalidAmount("too_large")
    amount = int(whole) * asset.unit + int(frac.ljust(asset.decimals, "0") or "0")
    if amount == 0:
        raise InvalidAmount("zero")
    if amount > MAX_AMOUNT:
        raise InvalidAmount("too_large")
    return amount


def format_amount(amount: int, asset: Asset, *, ticker: bool = True) -> str:
    """Render minor units as coins with every decimal: 1234 BTC-sats -> '0.00001234 BTC'."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(int(amount)), asset.unit)
    text = f"{sign}{whole}.{frac:0{asset.decimals}d}" if asset.decimals else f"{sign}{whole}"
    return f"{text} {asset.code}" if ticker else text


def to_decimal(amount: int, asset: Asset) -> Decimal:
    return Decimal(int(amount)).scaleb(-asset.decimals)
