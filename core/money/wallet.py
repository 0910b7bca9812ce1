"""What /balance shows: the coins a user holds, and lines other features add.

``summary`` reads the user's balances (minor units) and asks every registered source for
extra lines. Boosts, levels and staking are not built yet; when they are, each registers a
source here (``add_source``), returning ``Extra(kind, params)`` values, and the wallet handler
registers how a kind reads (``handlers.home.wallet.extra_lines``). Core never words them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from core.money import ledger
from core.money.accounts import user_account


@dataclass(frozen=True, slots=True)
class Extra:
    """One more line of /balance: ``kind`` names the feature ("boost", "level", "staking"),
    ``params`` are plain values (amounts in minor units with their ``asset``)."""

    kind: str
    params: dict[str, object] = field(default_factory=dict)


ExtraSource = Callable[[Connection, int], list[Extra]]
_SOURCES: list[ExtraSource] = []


def add_source(source: ExtraSource) -> None:
    """Register a feature's extra /balance lines: ``source(conn, user_id) -> [Extra, ...]``."""
    if source not in _SOURCES:
        _SOURCES.append(source)


@dataclass(frozen=True, slots=True)
class Summary:
    balances: dict[str, ledger.Balance]  # every asset the user has an account in, registry order
    extras: list[Extra]

    @property
    def held(self) -> dict[str, ledger.Balance]:
        """The coins the user holds (something available or on hold)."""
        return {code: b for code, b in self.balances.items() if b.balance or b.held}

    @property
    def empty(self) -> bool:
        return not self.held and not self.extras


def summary(conn: Connection, user_id: int) -> Summary:
    """The user's balances and every source's extra lines, in one read."""
    balances = ledger.balances(conn, user_account(user_id))
    extras = [extra for source in _SOURCES for extra in source(conn, user_id)]
    return Summary(balances, extras)
