"""Levels: lifetime reward points earned set a level, which gives a permanent faucet bonus.

Thresholds and bonuses are the admins' (``rp.levels``: ``POINTS:BONUS%`` pairs, e.g.
``1000:1%,5000:2%``). Level 0 is below the first threshold and has no bonus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InvalidParam
from core.platform.params import Param, define


@dataclass(frozen=True, slots=True)
class Level:
    number: int
    points: int  # lifetime RP from which it applies
    bonus_bp: int  # extra on faucet claims, basis points


@dataclass(frozen=True, slots=True)
class Progress:
    level: Level
    next: Level | None
    lifetime: int

    @property
    def to_next(self) -> int:
        return 0 if self.next is None else self.next.points - self.lifetime


_PAIR = re.compile(r"([0-9]{1,12}):([0-9]{1,3}(?:\.[0-9]{1,2})?)%?", re.ASCII)


def parse_levels(raw: str) -> tuple[Level, ...]:
    """``1000:1%,5000:2.5%`` -> levels 1, 2 (thresholds strictly rising); ValueError otherwise."""
    levels = [Level(0, 0, 0)]
    for part in filter(None, (p.strip() for p in raw.split(","))):
        m = _PAIR.fullmatch(part)
        if m is None:
            raise ValueError(part)
        whole, _, frac = m[2].partition(".")
        bp = int(whole) * 100 + int(frac.ljust(2, "0") or "0")
        points = int(m[1])
        if points <= levels[-1].points or bp > 10000:
            raise ValueError(part)
        levels.append(Level(len(levels), points, bp))
    return tuple(levels)


def _check(p: Param, value: object) -> None:
    try:
        parse_levels(str(value))
    except ValueError:
        raise InvalidParam("bad_value", key=p.key, value=str(value)[:40], kind=p.kind) from None


define("rp.levels", "1000:1%,5000:2%,20000:5%,100000:10%", "text", check=_check)


def progress(levels: tuple[Level, ...], lifetime: int) -> Progress:
    """The level reached with ``lifetime`` points, and the next one (None at the top)."""
    reached = levels[0]
    for lv in levels:
        if lifetime >= lv.points:
            reached = lv
    following = [lv for lv in levels if lv.points > lifetime]
    return Progress(reached, following[0] if following else None, lifetime)
