"""Crash: shared live rounds on a published hash chain (maths in core.play.crash_chain).

Chains (created by an admin, committed to a Bitcoin block whose hash becomes the salt) are stored
by core.play.crash_store; its names are re-exported here. Only a salted chain plays rounds.

Life of a round: ``open_round`` (betting for N seconds; the crash point is computed and kept
secret) -> ``join`` (the stake is reserved user -> house, key ``crash:{round}:{user}``, and the
most the bet can win beyond it house -> user, key ``crash:{round}:{user}:cover``) ->
``start_round`` (the server clock starts the curve) -> ``cash_out`` (the server's clock at the
moment the transaction runs decides the multiplier; posts the stake, voids the cover and pays the
win in one transaction; a conditional status update makes it happen at most once) ->
``crash_round`` (settles every open bet in one transaction, set-based (core.play.crash_settle):
auto cash-outs at or below the crash point win at their target, the rest lose; the game hash is
revealed).

Exposure: every staked bet has an auto cash-out (the player's, or lower), so its largest win is
known at join and reserved from the house then (two-phase). The covers the house holds stay within
``Rules.round_profit_bp`` of its balance (``crash.max_round_profit``: one round takes bets at a
time, so that is the round's cap) and each within ``games.max_profit``: a bet that would pass either gets a lower auto cash-out, or is refused when
even 1.01x does not fit. So a settlement can always be paid. Should one fail all the same (a bug,
a broken disk), ``mark_stuck`` ends the round without settling it: its bets stay open, stakes and
covers still held (the books balance), the admins are told through the notice outbox, rounds go
on, and ``settle_stuck`` settles it later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from core.identity import standing
from core.money import HOUSE, Code, ledger, user_account
from core.platform import audit, notices, params, utcnow
from core.play import crash_chain, crash_store
from core.play.crash_settle import LOST as LOST
from core.play.crash_settle import OPEN as OPEN
from core.play.crash_settle import WON as WON
from core.play.crash_settle import settle_open
from core.play.stakes import GameRefused, Rules, check_stake
from core.play.tables import crash_bets, crash_chains, crash_rounds

# The chain names, as core.play.crash has always offered them (core.play.crash_store keeps them).
FASTEST_BLOCK = crash_store.FASTEST_BLOCK
Chain = crash_store.Chain
ChainCache = crash_store.ChainCache
ChainNotLoaded = crash_store.ChainNotLoaded
CrashRefused = crash_store.CrashRefused
NewChain = crash_store.NewChain
SealedChain = crash_store.SealedChain
build_chain = crash_store.build_chain
check_new_chain = crash_store.check_new_chain
create_chain = crash_store.create_chain
is_block_hash = crash_store.is_block_hash
latest_chain = crash_store.latest_chain
sealed_chain = crash_store.sealed_chain
set_salt = crash_store.set_salt

params.define("crash.betting_seconds", "10s", "duration", minimum=1, maximum=600)
params.define("crash.edits_per_second", "25", "int", minimum=1, maximum=30)
params.define("crash.chain_length", "100000", "int", minimum=10, maximum=10_000_000)
params.define("crash.channel", "", "text")
params.define("crash.salt_blocks", "6", "int", minimum=1, maximum=1000)

BETTING, RUNNING, CRASHED = "betting", "running", "crashed"
STUCK = "stuck"  # busted, but its settlement failed: its open bets wait for settle_stuck
AUTO_MIN, AUTO_MAX = 101, 100_000_000  # hundredths


@dataclass(frozen=True, slots=True)
class Round:
    id: int
    chain_id: int
    game: int
    status: str
    crash_point: int  # secret until status == crashed
    betting_ends_at: datetime
    started_at: datetime | None
    hash: str | None

    def bust_at(self) -> datetime | None:
        if self.started_at is None:
            return None
        return self.started_at + timedelta(milliseconds=crash_chain.time_to_reach(self.crash_point))


def _round(row: Row[Any]) -> Round:
    return Round(
        row.id,
        row.chain_id,
        row.game,
        row.status,
        row.crash_point,
        row.betting_ends_at,
        row.started_at,
        row.hash,
    )


_LIVE = crash_rounds.c.status.in_((BETTING, RUNNING))
_UNFINISHED = select(crash_rounds).where(_LIVE).order_by(crash_rounds.c.id.desc()).limit(1)
# join locks the round's row (PostgreSQL; SQLite has one writer): joins of one round take turns,
# so each sees every cover taken before it.
_UNFINISHED_LOCKED = _UNFINISHED.with_for_update()
_ROUND = select(crash_rounds).where(crash_rounds.c.id == bindparam("r"))


def current_round(conn: Connection) -> Round | None:
    row = conn.execute(_UNFINISHED).first()
    return _round(row) if row else None


def open_round(
    conn: Connection, chains: ChainCache, *, betting_seconds: int, now: datetime | None = None
) -> Round | None:
    """The unfinished round if there is one (after a restart), else a new one taking bets.
    None when no salted chain has games left; ``ChainNotLoaded`` when ``chains`` must load the
    chain first."""
    unfinished = current_round(conn)
    if unfinished is not None:
        return unfinished
    row = conn.execute(
        select(crash_chains)
        .where(crash_chains.c.active.is_(True))
        .order_by(crash_chains.c.id.desc())
        .limit(1)
    ).first()
    if row is None or row.salt is None or row.next_game > row.length:
        return None
    now = now or utcnow()
    game = row.next_game
    point = crash_chain.crash_point(chains.game_hash(row.id, game), row.salt)  # or ChainNotLoaded
    conn.execute(update(crash_chains).where(crash_chains.c.id == row.id).values(next_game=game + 1))
    new = conn.execute(
        crash_rounds.insert()
        .values(
            chain_id=row.id,
            game=game,
            status=BETTING,
            crash_point=point,
            betting_ends_at=now + timedelta(seconds=betting_seconds),
            created_at=now,
        )
        .returning(*crash_rounds.c)
    ).one()
    return _round(new)


def start_round(conn: Connection, round_id: int, now: datetime | None = None) -> Round:
    now = now or utcnow()
    conn.execute(
        update(crash_rounds)
        .where(crash_rounds.c.id == round_id, crash_rounds.c.status == BETTING)
        .values(status=RUNNING, started_at=now)
    )
    return _round(conn.execute(_ROUND, {"r": round_id}).one())


@dataclass(frozen=True, slots=True)
class CrashBet:
    id: int
    round_id: int
    user_id: int
    asset: str
    amount: int
    auto_cashout: int | None
    status: str
    cashout: int | None
    payout: int
    chat_id: int
    message_id: int | None
    locale: str
    cover: int  # the most this bet can win beyond its stake: reserved from the house until settled
    asked: int | None = None  # the auto cash-out the player set (hundredths); None: the cap only
    replayed: bool = False


def _bet(row: Row[Any], replayed: bool = False) -> CrashBet:
    m = row._mapping
    return CrashBet(**{k: m[k] for k in CrashBet.__slots__ if k != "replayed"}, replayed=replayed)


_JOINED = select(crash_bets.c.id).where(
    crash_bets.c.round_id == bindparam("r"), crash_bets.c.user_id == bindparam("u")
)
_BET_BY_IDEM = select(crash_bets).where(crash_bets.c.idem == bindparam("k"))


def exposure(conn: Connection, asset: str, rules: Rules) -> tuple[int, int]:
    """(per bet, room) in minor units: the most one bet may win beyond its stake
    (``games.max_profit`` of what the house has free), and what the open crash bets may still
    win together: ``round_profit_bp`` of the house's balance, less the covers it holds already.
    Only crash covers are held by the house, and one round takes bets at a time, so the covers
    held are this round's (and those of a round stuck unsettled, which still count)."""
    house = ledger.balance(conn, HOUSE, asset)
    per_bet = house.available * rules.max_profit_bp // 10_000
    room = max(0, house.balance * rules.round_profit_bp // 10_000 - house.held)
    return per_bet, room


def join(
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
) -> tuple[CrashBet, Round]:
    """Join the round taking bets: reserve the stake, and the most it can win from the house.
    ``auto_cashout`` in hundredths (or None).

    The most a bet may win is capped (``games.max_profit``, the round's room, and AUTO_MAX): the
    stored auto cash-out is the lower of the player's and the caps', so a cap pays out instead
    of refusing; ``round_full`` (or ``max_profit``) only when not even 1.01x fits. None only for
    a stake of 0 without an auto cash-out.
    """
    standing.require(conn, user_id, standing.PLAY)
    prior = conn.execute(_BET_BY_IDEM, {"k": idem}).first()
    if prior is not None:
        return _bet(prior, replayed=True), _round(conn.execute(_ROUND, {"r": prior.round_id}).one())
    if auto_cashout is not None and not AUTO_MIN <= auto_cashout <= AUTO_MAX:
        raise CrashRefused("bad_auto", min=AUTO_MIN, max=AUTO_MAX)
    now = now or utcnow()
    row = conn.execute(_UNFINISHED_LOCKED).first()
    if row is None:
        raise CrashRefused("no_round")
    rnd = _round(row)
    if rnd.status != BETTING or now >= rnd.betting_ends_at:
        raise CrashRefused("betting_closed")
    cap, room = exposure(conn, asset, rules)  # the house balance, read once
    auto = auto_cashout
    if amount > 0:
        # Every staked bet keeps an auto cash-out: the player's, or the caps' (at most AUTO_MAX),
        # so no press can win more than was reserved for it.
        auto = min(auto_cashout or AUTO_MAX, (amount + min(cap, room)) * 100 // amount, AUTO_MAX)
        if auto < AUTO_MIN:
            if room < cap:
                raise CrashRefused("round_full", limit=room, asset=asset)
            raise GameRefused("max_profit", limit=cap, asset=asset, game="crash")
    check_stake(
        conn, user_id, asset, amount, amount * (auto or 100) // 100, rules, now, cap=cap, game="crash"
    )
    if conn.execute(_JOINED, {"r": rnd.id, "u": user_id}).first() is not None:
        raise CrashRefused("already_joined")
    ref = f"crash:{rnd.id}:{user_id}"
    t = ledger.reserve(
        conn,
        debit=user_account(user_id),
        credit=HOUSE,
        asset=asset,
        amount=amount,
        code=Code.CRASH_BET,
        key=ref,
        meta={"round": rnd.id},
        now=now,
    )
    cover = amount * (auto or 100) // 100 - amount
    cover_id = None
    if cover > 0:
        cover_id = ledger.reserve(
            conn,
            debit=HOUSE,
            credit=user_account(user_id),
            asset=asset,
            amount=cover,
            code=Code.CRASH_COVER,
            key=f"{ref}:cover",
            meta={"round": rnd.id},
            now=now,
        ).id
    row = conn.execute(
        crash_bets.insert()
        .values(
            round_id=rnd.id,
            user_id=user_id,
            asset=asset,
            amount=amount,
            auto_cashout=auto,
            asked=auto_cashout,
            status=OPEN,
            payout=0,
            reserve_id=t.id,
            cover=cover,
            cover_id=cover_id,
            idem=idem,
            chat_id=chat_id,
            locale=locale,
            created_at=now,
        )
        .returning(*crash_bets.c)
    ).one()
    return _bet(row), rnd


def set_message(conn: Connection, bet_id: int, message_id: int) -> None:
    conn.execute(update(crash_bets).where(crash_bets.c.id == bet_id).values(message_id=message_id))


_BET = select(crash_bets).where(crash_bets.c.id == bindparam("b"))
_CLAIM = (
    update(crash_bets)
    .where(crash_bets.c.id == bindparam("b"), crash_bets.c.status == OPEN)
    .values(
        status=bindparam("st"), cashout=bindparam("m"), payout=bindparam("p"), settled_at=bindparam("now")
    )
)


def _settle(conn: Connection, bet: Row[Any], status: str, mult: int | None, now: datetime) -> int:
    """Post the reserve and pay a win: once (the conditional update claims the bet first)."""
    win = bet.amount * mult // 100 if mult else 0
    if conn.execute(_CLAIM, {"b": bet.id, "st": status, "m": mult, "p": win, "now": now}).rowcount != 1:
        return -1
    ref = f"crash:{bet.round_id}:{bet.user_id}"
    ledger.post_pending(conn, bet.reserve_id, key=f"{ref}:post", now=now)
    if bet.cover_id is not None:  # the house's reserve for this bet: the win is paid below
        ledger.void_pending(conn, bet.cover_id, key=f"{ref}:cover:void", now=now)
    if win > 0:
        ledger.transfer(
            conn,
            debit=HOUSE,
            credit=user_account(bet.user_id),
            asset=bet.asset,
            amount=win,
            code=Code.CRASH_WIN,
            key=f"{ref}:win",
            meta={"round": bet.round_id, "x": mult},
            now=now,
        )
    return win


def cash_out(conn: Connection, *, user_id: int, bet_id: int, now: datetime | None = None) -> CrashBet:
    """Cash out at the multiplier the server's clock gives now (or at the auto target if that
    came first). Refused once the round has crashed, and for a second cash-out."""
    now = now or utcnow()
    bet = conn.execute(_BET, {"b": bet_id}).first()
    if bet is None or bet.user_id != user_id:
        raise CrashRefused("not_found")
    if bet.status == WON:
        raise CrashRefused("already_cashed", x=bet.cashout)
    if bet.status == LOST:
        raise CrashRefused("crashed")
    rnd = _round(conn.execute(_ROUND, {"r": bet.round_id}).one())
    if rnd.status == BETTING or rnd.started_at is None:
        raise CrashRefused("not_started")
    elapsed = int((now - rnd.started_at).total_seconds() * 1000)
    # The round is over the moment the curve reaches the bust, so a press never pays the bust
    # itself (only an auto cash-out set exactly there does, as bustabit).
    over = elapsed >= crash_chain.time_to_reach(rnd.crash_point)
    mult = None if over else crash_chain.cash_out_at(elapsed, rnd.crash_point)
    if mult is None:
        raise CrashRefused("crashed", x=rnd.crash_point if rnd.status == CRASHED else None)
    if bet.auto_cashout is not None and bet.auto_cashout <= mult:
        mult = bet.auto_cashout
    if _settle(conn, bet, WON, mult, now) < 0:
        raise CrashRefused("already_cashed", x=mult)
    return _bet(conn.execute(_BET, {"b": bet_id}).one())


def crash_round(
    conn: Connection, round_id: int, game_hash_hex: str, now: datetime | None = None
) -> list[CrashBet]:
    """Settle every open bet of a round that has busted (or is stuck) and reveal its hash.
    Idempotent."""
    now = now or utcnow()
    rnd = _round(conn.execute(_ROUND, {"r": round_id}).one())
    bets = settle_open(conn, round_id, rnd.crash_point, now)  # set-based: core.play.crash_settle
    conn.execute(
        update(crash_rounds)
        .where(crash_rounds.c.id == round_id)
        .values(status=CRASHED, hash=game_hash_hex, crashed_at=now)
    )
    return [_bet(b) for b in bets]


def mark_stuck(
    conn: Connection,
    round_id: int,
    game_hash_hex: str,
    *,
    error: str,
    admin_ids: Iterable[int] = (),
    now: datetime | None = None,
) -> Round:
    """End a round whose settlement failed without settling it, so the next one can open.

    Its open bets keep their stakes and covers on hold (nothing moves, the books balance); the
    bust has passed, so no cash-out can reach them. Its hash is stored (and may be shown: the
    crash point no longer decides anything) for ``settle_stuck``. Each admin gets one notice
    (key ``crash_stuck:{round}:{admin}``)."""
    now = now or utcnow()
    conn.execute(
        update(crash_rounds)
        .where(crash_rounds.c.id == round_id, _LIVE)
        .values(status=STUCK, hash=game_hash_hex, crashed_at=now)
    )
    rnd = _round(conn.execute(_ROUND, {"r": round_id}).one())
    params = {"game": rnd.game, "round": rnd.id, "error": error[:200]}
    notices.enqueue_many(
        conn, [(a, "crash_stuck", params, f"crash_stuck:{round_id}:{a}") for a in sorted(admin_ids)], now=now
    )
    audit.record(conn, "crash_stuck", actor=None, target=str(round_id), error=error[:200], now=now)
    return rnd


def stuck_rounds(conn: Connection) -> list[Round]:
    q = select(crash_rounds).where(crash_rounds.c.status == STUCK).order_by(crash_rounds.c.id)
    return [_round(r) for r in conn.execute(q)]


def settle_stuck(
    conn: Connection, round_id: int, *, admin_ids: Iterable[int] = (), now: datetime | None = None
) -> list[CrashBet]:
    """Settle a stuck round as ``crash_round`` would have; tell the admins (``crash_settled``)
    and each player whose bet it settles (``crash_result``)."""
    now = now or utcnow()
    rnd = _round(conn.execute(_ROUND, {"r": round_id}).one())
    if rnd.status != STUCK:
        return round_bets(conn, round_id)
    waiting = {b.id for b in round_bets(conn, round_id) if b.status == OPEN}
    assert rnd.hash is not None  # mark_stuck stored it
    settled = crash_round(conn, round_id, rnd.hash, now=now)
    items: list[tuple[int, str, dict[str, Any] | None, str | None]] = [
        (a, "crash_settled", {"game": rnd.game, "round": rnd.id}, f"crash_settled:{round_id}:{a}")
        for a in sorted(admin_ids)
    ]
    for b in settled:
        if b.id in waiting:
            result = {
                "game": rnd.game,
                "won": b.status == WON,
                "x": b.cashout,
                "payout": b.payout,
                "amount": b.amount,
                "asset": b.asset,
            }
            items.append((b.user_id, "crash_result", result, f"crash_result:{b.id}"))  # in private
    notices.enqueue_many(conn, items, now=now)
    return settled


def round_bets(conn: Connection, round_id: int) -> list[CrashBet]:
    q = select(crash_bets).where(crash_bets.c.round_id == round_id).order_by(crash_bets.c.id)
    return [_bet(r) for r in conn.execute(q)]


def get_round(conn: Connection, round_id: int) -> Round:
    row = conn.execute(_ROUND, {"r": round_id}).first()
    if row is None:
        raise CrashRefused("not_found")
    return _round(row)


def recent_rounds(conn: Connection, limit: int = 10) -> list[Round]:
    q = (
        select(crash_rounds)
        .where(crash_rounds.c.status == CRASHED)
        .order_by(crash_rounds.c.id.desc())
        .limit(limit)
    )
    return [_round(r) for r in conn.execute(q)]
