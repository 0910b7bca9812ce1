"""Settling a busted crash round set-based: one claim of every open bet, then the ledger in bulk.

A round of 10,000 players cannot afford 10,000 trips through ``ledger.post_pending``,
``void_pending`` and ``transfer`` (a dozen statements each). ``settle_open`` does, whatever the
number of bets:

- one conditional ``UPDATE ... WHERE status = 'open' RETURNING`` that claims every open bet of
  the round (a bet a cash-out settled first is not among them, so none is settled twice), with
  its outcome: an auto cash-out at or below the crash point wins ``amount * x // 100`` at its
  target, the rest lose;
- ``bulk.post_pending_bulk`` of every stake (key ``crash:{round}:{user}:post``),
  ``bulk.void_pending_bulk`` of every cover (``crash:{round}:{user}:cover:void``) and
  ``bulk.transfer_bulk`` of every win (``crash:{round}:{user}:win``, meta round and x): the same
  transfers, keys and codes as settling each bet alone (core.play.crash._settle).

The covers reserved at join are at least the wins beyond the stakes, and the stakes are posted
first, so the house can always pay; should it not, the error rolls the whole settlement back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Row, and_, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql

from core.money import HOUSE, Code, bulk, ledger, user_account
from core.play.tables import crash_bets

OPEN, WON, LOST = "open", "won", "lost"

_won = and_(crash_bets.c.auto_cashout.is_not(None), crash_bets.c.auto_cashout <= bindparam("cp"))
# amount * x // 100 without passing a BIGINT (amount up to 1e18, x up to 1e8): with
# amount = 100a + b and x = 100q + r it is amount*q + a*r + (b*r) // 100, each term small.
_amount, _x = crash_bets.c.amount, crash_bets.c.auto_cashout
_win = _amount * (_x // 100) + (_amount // 100) * (_x % 100) + ((_amount % 100) * (_x % 100)) // 100
_CLAIM_ALL = (
    update(crash_bets)
    .where(crash_bets.c.round_id == bindparam("r"), crash_bets.c.status == OPEN)
    .values(
        status=case((_won, WON), else_=LOST),
        cashout=case((_won, crash_bets.c.auto_cashout), else_=None),
        payout=case((_won, _win), else_=0),
        settled_at=bindparam("now"),
    )
    .returning(*crash_bets.c)
)
# The round's bets settled before (cash-outs), besides the ones just claimed: on PostgreSQL a
# cash-out may commit between any read and the claim, so they are read after it, by exclusion.
# NOT IN a subquery is a hashed anti-join (``id != ALL(array)`` would compare every pair).
_PG_OTHERS = select(crash_bets).where(
    crash_bets.c.round_id == bindparam("r"),
    crash_bets.c.id.not_in(
        select(func.unnest(bindparam("ids", type_=postgresql.ARRAY(BigInteger)))).scalar_subquery()
    ),
)
_SETTLED_BEFORE = select(crash_bets).where(
    crash_bets.c.round_id == bindparam("r"), crash_bets.c.status != OPEN
)


def settle_open(conn: Connection, round_id: int, crash_point: int, now: datetime) -> list[Row[Any]]:
    """Settle every open bet of ``round_id`` (busted at ``crash_point``, hundredths); returns every
    bet of the round (rows of crash_bets, by id). In the caller's transaction; a second call finds
    no open bet and moves nothing."""
    pg = conn.dialect.name == "postgresql"
    before: list[Row[Any]] = []
    if not pg:  # one writer: nothing can settle a bet between this read and the claim
        before = list(conn.execute(_SETTLED_BEFORE, {"r": round_id}))
    # Sorted by id: the order of the keys, as the bets joined.
    claimed = sorted(
        conn.execute(_CLAIM_ALL, {"r": round_id, "cp": crash_point, "now": now}), key=lambda b: b.id
    )
    if pg:
        before = list(conn.execute(_PG_OTHERS, {"r": round_id, "ids": [b.id for b in claimed]}))
    if claimed:
        _pay(conn, round_id, claimed, now)
    return sorted([*before, *claimed], key=lambda b: b.id)


def _pay(conn: Connection, round_id: int, claimed: list[Row[Any]], now: datetime) -> None:
    posts: list[tuple[int, str]] = []
    covers: list[tuple[int, str]] = []
    wins: list[ledger.Move] = []
    for b in claimed:
        ref = f"crash:{round_id}:{b.user_id}"
        posts.append((b.reserve_id, f"{ref}:post"))
        if b.cover_id is not None:
            covers.append((b.cover_id, f"{ref}:cover:void"))
        win = b.payout
        if win > 0:
            wins.append(
                ledger.Move(
                    HOUSE,
                    user_account(b.user_id),
                    b.asset,
                    win,
                    Code.CRASH_WIN,
                    f"{ref}:win",
                    {"round": round_id, "x": b.cashout},
                )
            )
    bulk.post_pending_bulk(conn, posts, now=now)
    bulk.void_pending_bulk(conn, covers, now=now)
    if wins:
        bulk.transfer_bulk(conn, wins, now=now)
