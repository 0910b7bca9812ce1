"""The swap settings in force (core.platform.params), read once per use case into a value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from core.errors import DomainError, InvalidParam
from core.exchange.prices import NON_SWAPPABLE, BadPrice, parse_price
from core.money import ASSETS
from core.platform import Param, Params, define

SWAPPABLE: tuple[str, ...] = tuple(code for code in ASSETS if code not in NON_SWAPPABLE)

_MINIMUMS = {
    "BTC": "0.00000100",
    "LTC": "0.00001000",
    "DOGE": "0.01",
    "USDT": "0.01",
    "TRX": "0.1",
    "DUST": "1",
}
_SHARE = Param("swap.spread", "0", "share", maximum=5000)


def _share_or_default(p: Param, value: object) -> None:
    """A pair's spread: empty (the default swap.spread applies) or a share like 0.5%."""
    if value != "":
        try:
            _SHARE.parse(str(value))
        except DomainError:
            raise InvalidParam("bad_value", key=p.key, value=str(value)[:40], kind="share") from None


def _usd_or_none(p: Param, value: object) -> None:
    """swap.rate.<ASSET>: USD per whole coin, like 0.0005; 0 means not priced (swaps pause)."""
    if str(value) not in ("0", ""):
        try:
            parse_price(str(value))
        except BadPrice:
            raise InvalidParam("bad_value", key=p.key, value=str(value)[:40], kind="price") from None


define("swap.spread", "1%", "share", maximum=5000)
define("swap.quote_ttl", "30s", "duration", minimum=5, maximum=3600)
define("swap.max_slippage", "1%", "share", maximum=10000)
define("swap.rate.DUST", "0", "text", check=_usd_or_none)
for _a in SWAPPABLE:
    define(f"swap.min.{_a}", _MINIMUMS.get(_a, "0"), "amount", asset=_a)
    define(f"swap.daily_limit.{_a}", "0", "amount", asset=_a)  # 0: no daily limit
    define(f"swap.fee.{_a}", "0", "amount", asset=_a)  # flat, in the coin received
    for _b in SWAPPABLE:
        if _b != _a:
            define(f"swap.spread.{_a}.{_b}", "", "text", check=_share_or_default)


@dataclass(frozen=True, slots=True)
class Policy:
    """Spreads in basis points; amounts in minor units; durations in seconds."""

    spread_bp: int = 100
    pair_spreads: Mapping[tuple[str, str], int] = field(default_factory=dict)
    fees: Mapping[str, int] = field(default_factory=dict)
    minimums: Mapping[str, int] = field(default_factory=dict)
    daily_limits: Mapping[str, int] = field(default_factory=dict)  # 0 or absent: no limit
    quote_ttl: int = 30
    max_slippage_bp: int = 100
    max_age: int = 300
    dust_rate: Decimal | None = None

    def spread_for(self, frm: str, to: str) -> int:
        return self.pair_spreads.get((frm, to), self.spread_bp)


def policy_for(params: Params) -> Policy:
    pairs: dict[tuple[str, str], int] = {}
    for a in SWAPPABLE:
        for b in SWAPPABLE:
            raw = params.get(f"swap.spread.{a}.{b}") if a != b else ""
            if raw:
                pairs[(a, b)] = int(_SHARE.parse(str(raw)))
    dust = str(params.get("swap.rate.DUST"))
    return Policy(
        spread_bp=params.get("swap.spread"),
        pair_spreads=pairs,
        fees={a: params.get(f"swap.fee.{a}") for a in SWAPPABLE},
        minimums={a: params.get(f"swap.min.{a}") for a in SWAPPABLE},
        daily_limits={a: params.get(f"swap.daily_limit.{a}") for a in SWAPPABLE},
        quote_ttl=params.get("swap.quote_ttl"),
        max_slippage_bp=params.get("swap.max_slippage"),
        max_age=params.get("prices.max_age"),
        dust_rate=parse_price(dust) if dust not in ("0", "") else None,
    )
