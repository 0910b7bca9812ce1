"""Crash joins that wait for the next round, and what /bets shows of a player's crash bets.

``join_or_queue`` is what /crash does: join the round taking bets, or, while a round runs (or
between two rounds), queue the join for the next one: nothing is reserved yet, the player's
stake is checked against the bet size rules and what they have so a hopeless join is refused at
once. When the runner opens a round it calls ``join_queued`` in the same transaction: each
waiting join becomes a bet (``core.play.crash.join`` with the queued idempotency key, so it
happens once) or is dropped with its refusal, each in its own savepoint so one player's
refusal never stops another's join. Before an admin has set a salted chain up, /crash is
refused with ``not_open``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select

from core.errors import DomainError, InsufficientFunds
from core.identity import standing
from core.money import ledger, user_account
from core.platform import utcnow
from core.play import crash
from core.play.stakes import GameRefused, Rules, StakeRange, coins_held, stake_range
from core.play.tables import crash_bets, crash_chains, crash_queue, crash_rounds


@dataclass(frozen=True, slots=True)
class Queued:
    id: int
    user_id: int
    asset: str
    amount: int
    auto_cashout: int | None
    chat_id: int
    message_id: int | None
    locale: str
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Joined:
    """What /crash did: joined ``bet`` in ``round``, or ``queued`` for the next round (after
    ``running``, the round being played now, when there is one)."""

    bet: crash.CrashBet | None = None
    round: crash.Round | None = None
    queued: Queued | None = None
    running: crash.Round | None = None


def _queued(row: Any, replayed: bool = False) -> Queued:
    return Queued(
        row.id,
        row.user_id,
        row.asset,
        row.amount,
        row.auto_cashout,
        row.chat_id,
        row.message_id,
        row.locale,
        replayed,
    )


_QUEUED_BY_IDEM = select(crash_queue).where(crash_queue.c.idem == bindparam("k"))
_QUEUED_BY_USER = select(crash_queue.c.id).where(crash_queue.c.user_id == bindparam("u"))
_BET_BY_IDEM = select(crash_bets.c.id).where(crash_bets.c.idem == bindparam("k"))


def is_open(conn: Connection) -> bool:
    """A salted chain with games left, or a round still being played."""
    if crash.current_round(conn) is not None:
        return True
    row = conn.execute(
        select(crash_chains)
        .where(crash_chains.c.active.is_(True))
        .order_by(crash_chains.c.id.desc())
        .limit(1)
    ).first()
    return row is not None and row.salt is not None and row.next_game <= row.length


def join_or_queue(
    conn: Connection,
    *,
    user_id: int,
    asset: str,
    amount: int,
    auto_cashout: int | None,
    rules: Rules,
    idem: str,
    chat_id: int,
    locale: str = "en",
    now: datetime | None = None,
) -> Joined:
    """Join the round taking bets, or queue the join for the next round (see the module
    docstring). ``not_open`` before any salted chain; ``already_queued`` for a second wait."""
    standing.require(conn, user_id, standing.PLAY)
    now = now or utcnow()
    prior = conn.execute(_QUEUED_BY_IDEM, {"k": idem}).first()
    if prior is not None:
        return Joined(queued=_queued(prior, replayed=True))
    if auto_cashout is not None and not crash.AUTO_MIN <= auto_cashout <= crash.AUTO_MAX:
        raise crash.CrashRefused("bad_auto", min=crash.AUTO_MIN, max=crash.AUTO_MAX)
    live = crash.current_round(conn)
    taking = live is not None and live.status == crash.BETTING and now < live.betting_ends_at
    if taking or conn.execute(_BET_BY_IDEM, {"k": idem}).first() is not None:
        bet, rnd = crash.join(
            conn,
            user_id=user_id,
            asset=asset,
            amount=amount,
            auto_cashout=auto_cashout,
            rules=rules,
            idem=idem,
            chat_id=chat_id,
            locale=locale,
            now=now,
        )
        return Joined(bet=bet, round=rnd)
    if not is_open(conn):
        raise crash.CrashRefused("not_open")
    if amount < rules.min_bet:
        raise GameRefused("below_min", min=rules.min_bet, asset=asset)
    if amount > rules.max_bet:
        raise GameRefused("above_max", max=rules.max_bet, asset=asset)
    have = ledger.balance(conn, user_account(user_id), asset).available
    if have < amount:
        raise InsufficientFunds(user_account(user_id), asset, amount, have=max(0, have))
    if conn.execute(_QUEUED_BY_USER, {"u": user_id}).first() is not None:
        raise crash.CrashRefused("already_queued")
    row = conn.execute(
        crash_queue.insert()
        .values(
            user_id=user_id,
            asset=asset,
            amount=amount,
            auto_cashout=auto_cashout,
            idem=idem,
            chat_id=chat_id,
            locale=locale,
            created_at=now,
        )
        .returning(*crash_queue.c)
    ).one()
    return Joined(queued=_queued(row), running=live)


def set_queued_message(conn: Connection, queued_id: int, message_id: int) -> None:
    conn.execute(crash_queue.update().where(crash_queue.c.id == queued_id).values(message_id=message_id))


@dataclass(frozen=True, slots=True)
class Opened:
    """A queued join once its round opened: the bet, or the refusal that dropped it."""

    queued: Queued
    bet: crash.CrashBet | None
    refusal: DomainError | None


def join_queued(
    conn: Connection, rules_of: Callable[[str], Rules], now: datetime | None = None
) -> list[Opened]:
    """Make every queued join a bet of the round taking bets now (call it right after the round
    opens). ``rules_of(asset)`` gives the rules in force. Each queued row is removed."""
    now = now or utcnow()
    rows = conn.execute(select(crash_queue).order_by(crash_queue.c.id)).all()
    done: list[Opened] = []
    for row in rows:
        q = _queued(row)
        try:
            with conn.begin_nested():
                bet, _rnd = crash.join(
                    conn,
                    user_id=q.user_id,
                    asset=q.asset,
                    amount=q.amount,
                    auto_cashout=q.auto_cashout,
                    rules=rules_of(q.asset),
                    idem=row.idem,
                    chat_id=q.chat_id,
                    locale=q.locale,
                    now=now,
                )
            if q.message_id is not None and bet.message_id is None:
                crash.set_message(conn, bet.id, q.message_id)  # the queued message becomes its view
                bet = crash._bet(conn.execute(crash._BET, {"b": bet.id}).one())
            done.append(Opened(q, bet, None))
        except DomainError as refusal:
            done.append(Opened(q, None, refusal))
        conn.execute(delete(crash_queue).where(crash_queue.c.id == q.id))
    return done


@dataclass(frozen=True, slots=True)
class CrashLine:
    """One crash bet in /bets: its round's game number and, once crashed, its hash."""

    bet: crash.CrashBet
    game: int
    hash: str | None
    crash_point: int | None  # None until the round has crashed


def recent_crash_bets(conn: Connection, user_id: int, limit: int = 10) -> list[CrashLine]:
    q = (
        select(
            crash_bets,
            crash_rounds.c.game,
            crash_rounds.c.hash,
            crash_rounds.c.crash_point,
            crash_rounds.c.status.label("round_status"),
        )
        .join(crash_rounds, crash_rounds.c.id == crash_bets.c.round_id)
        .where(crash_bets.c.user_id == user_id)
        .order_by(crash_bets.c.id.desc())
        .limit(limit)
    )
    lines = []
    for row in conn.execute(q):
        done = row.round_status == crash.CRASHED
        shown = (row.hash, row.crash_point) if done else (None, None)
        lines.append(CrashLine(crash._bet(row), row.game, *shown))
    return lines


def stake_panel(conn: Connection, user_id: int, asset: str, rules: Rules) -> tuple[StakeRange, list[str]]:
    """The crash panel's stakes (the profit cap lowers the auto cash-out instead of the stake, so
    Max is what the bet size rules and the balance allow) and the coins the player holds."""
    return stake_range(conn, user_id, asset, 10_000, rules), coins_held(conn, user_id)


@dataclass(frozen=True, slots=True)
class RoundProof:
    """What anyone needs to check a crashed round: its revealed hash, the chain's salt and
    terminating hash (the game number is how many SHA-256 steps lead from one to the other)."""

    round: crash.Round
    hash: str
    salt: str
    commitment: str


def round_proof(conn: Connection, round_id: int) -> RoundProof:
    """A crashed round's proof; ``not_found`` for a round not crashed yet (its hash is secret)."""
    row = conn.execute(
        select(crash_rounds, crash_chains.c.salt, crash_chains.c.commitment)
        .join(crash_chains, crash_chains.c.id == crash_rounds.c.chain_id)
        .where(crash_rounds.c.id == round_id)
    ).first()
    if row is None or row.status != crash.CRASHED or row.hash is None or row.salt is None:
        raise crash.CrashRefused("round_not_over")
    return RoundProof(crash._round(row), row.hash, row.salt, row.commitment)
