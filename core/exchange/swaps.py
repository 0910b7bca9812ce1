"""Swaps: quote, then confirm, in two transactions; a sweep is a quote of several legs.

``quote_swap`` prices ``amount`` of one coin in another at the rate in force
(core.exchange.prices), checks the limits and stores the quote, valid ``swap.quote_ttl`` seconds.
``confirm_quote`` executes it once, in one transaction, per leg:

    user      -> liquidity   amount_in of the coin given        code swap      key swap:{quote}:{leg}:in
    liquidity -> user        amount_out of the coin received    code swap      key swap:{quote}:{leg}:out
    liquidity -> fees        spread + fee of the coin received  code swap_fee  key swap:{quote}:{leg}:fee

All legs move or none: liquidity that cannot pay refuses the whole quote ("no_liquidity"), never a
negative balance. An expired quote, or one whose rate moved more than ``swap.max_slippage`` since,
is replaced by a fresh quote that the user confirms again; a quote confirmed before is reported,
not executed again (the quote's state changes from open to done once, and the ledger keys are
the quote's).

Limits: ``swap.min.<ASSET>`` per leg's coin given, ``swap.daily_limit.<ASSET>`` on what a user
swaps away per coin and UTC day, and liquidity's balance.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import DomainError, InsufficientFunds
from core.exchange.policy import SWAPPABLE, Policy
from core.exchange.prices import NON_SWAPPABLE, PriceRow, price_of, read_book
from core.exchange.quotes import (
    SKIP_BELOW_MIN,
    SKIP_DAILY_LIMIT,
    SKIP_NO_PRICE,
    SKIP_TOO_SMALL,
    Leg,
    moved_beyond,
    price_leg,
)
from core.exchange.tables import swap_quotes, swap_volume
from core.identity import standing
from core.money import FEES, LIQUIDITY, get_asset, ledger, user_account
from core.platform import utcnow

CODE = "swap"
FEE_CODE = "swap_fee"
SWAP, SWEEP = "swap", "sweep"
OPEN, DONE, REPLACED, CANCELLED = "open", "done", "replaced", "cancelled"
ALL, HALF = "all", "half"


class SwapError(DomainError):
    """reasons: not_swappable, same_asset, no_price, below_min, too_small, daily_limit,
    no_liquidity, nothing_held, nothing_to_sweep, bad_amount, quote_unknown, quote_replaced,
    quote_cancelled."""


@dataclass(frozen=True, slots=True)
class Quote:
    id: int
    user_id: int
    kind: str  # swap | sweep
    target: str  # the coin received
    legs: tuple[Leg, ...]
    state: str
    created_at: datetime
    expires_at: datetime

    @property
    def active(self) -> tuple[Leg, ...]:
        return tuple(leg for leg in self.legs if leg.skip is None)

    @property
    def skipped(self) -> tuple[Leg, ...]:
        return tuple(leg for leg in self.legs if leg.skip is not None)

    @property
    def total_out(self) -> int:
        return sum(leg.amount_out for leg in self.active)

    @property
    def ttl(self) -> int:
        return int((self.expires_at - self.created_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Confirmation:
    status: str  # done | already | requoted
    quote: Quote  # the quote executed (done, already) or the fresh one to confirm (requoted)
    previous: Quote | None = None  # requoted: the quote that expired or moved


# --- checks --------------------------------------------------------------------------------


def swappable(code: str) -> str:
    """The canonical code of a coin that can be swapped; UnknownAsset or SwapError otherwise."""
    raw = (code or "").strip().upper() if isinstance(code, str) else ""
    if raw in NON_SWAPPABLE:
        raise SwapError("not_swappable", asset=raw)
    asset = get_asset(code).code
    if asset not in SWAPPABLE:
        raise SwapError("not_swappable", asset=asset)
    return asset


def _pair(frm: str, to: str) -> tuple[str, str]:
    a, b = swappable(frm), swappable(to)
    if a == b:
        raise SwapError("same_asset", asset=a)
    return a, b


def _usd(book: Sequence[PriceRow], asset: str, policy: Policy, now: datetime) -> Decimal:
    price = price_of(book, asset, now, policy.max_age, policy.dust_rate)
    if price is None:
        raise SwapError("no_price", asset=asset)
    return price.usd


def _leg(book: Sequence[PriceRow], frm: str, to: str, amount: int, policy: Policy, now: datetime) -> Leg:
    """A priced leg, or SwapError (no_price, below_min, too_small)."""
    p_from, p_to = _usd(book, frm, policy, now), _usd(book, to, policy, now)
    minimum = policy.minimums.get(frm, 0)
    if amount < minimum:
        raise SwapError("below_min", asset=frm, minimum=minimum)
    leg = price_leg(amount, frm, to, p_from, p_to, policy.spread_for(frm, to), policy.fees.get(to, 0))
    if leg.amount_out <= 0:
        raise SwapError("too_small", asset=frm, to=to)
    return leg


def _day(now: datetime) -> int:
    return int(now.timestamp()) // 86400


_VOLUME = select(swap_volume.c.amount).where(
    swap_volume.c.user_id == bindparam("u"),
    swap_volume.c.asset == bindparam("s"),
    swap_volume.c.day == bindparam("d"),
)


def _check_daily(
    conn: Connection, user_id: int, asset: str, amount: int, policy: Policy, now: datetime
) -> None:
    limit = policy.daily_limits.get(asset, 0)
    if limit:
        used = conn.execute(_VOLUME, {"u": user_id, "s": asset, "d": _day(now)}).scalar() or 0
        if used + amount > limit:
            raise SwapError("daily_limit", asset=asset, limit=limit, left=max(0, limit - used))


def _volume_stmts(insert_: Callable[[Table], Any]) -> Any:
    ins = insert_(swap_volume).values(
        user_id=bindparam("u"), asset=bindparam("s"), day=bindparam("d"), amount=bindparam("a")
    )
    return ins.on_conflict_do_update(
        index_elements=[swap_volume.c.user_id, swap_volume.c.asset, swap_volume.c.day],
        set_={"amount": swap_volume.c.amount + ins.excluded.amount},
    ).returning(swap_volume.c.amount)


_ADD_VOLUME = {"sqlite": _volume_stmts(sqlite.insert), "postgresql": _volume_stmts(postgresql.insert)}


def _add_volume(
    conn: Connection, user_id: int, asset: str, amount: int, policy: Policy, now: datetime
) -> None:
    """Count ``amount`` against today's limit in one statement; refuse past it (rolled back by the caller).
    Without a limit for the coin nothing is counted (a limit set during a day counts from then on)."""
    limit = policy.daily_limits.get(asset, 0)
    if not limit:
        return
    total = conn.execute(
        _ADD_VOLUME[conn.dialect.name], {"u": user_id, "s": asset, "d": _day(now), "a": amount}
    ).scalar_one()
    if total > limit:
        raise SwapError("daily_limit", asset=asset, limit=limit, left=max(0, limit - (total - amount)))


def _check_liquidity(conn: Connection, legs: Sequence[Leg]) -> None:
    need: dict[str, int] = {}
    for leg in legs:
        need[leg.to] = need.get(leg.to, 0) + leg.paid_by_liquidity
    for asset, amount in need.items():
        if ledger.balance(conn, LIQUIDITY, asset).available < amount:
            raise SwapError("no_liquidity", asset=asset)


# --- quotes ----------------------------------------------------------------------------------


_INSERT = insert(swap_quotes).returning(swap_quotes.c.id)
_SQL_INSERT = (
    "INSERT INTO swap_quotes (user_id, kind, target, legs, state, created_at, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_AT = "%Y-%m-%d %H:%M:%S.%f"  # a UTCDateTime as SQLite stores it


def _sqlite(conn: Connection) -> sqlite3.Connection | None:
    """The writer's own sqlite3 connection, for the hot statements (reads go through aiosqlite)."""
    driver = conn.connection.driver_connection
    return driver if isinstance(driver, sqlite3.Connection) else None


def _store(
    conn: Connection, user_id: int, kind: str, target: str, legs: Sequence[Leg], policy: Policy, now: datetime
) -> Quote:
    expires = now + timedelta(seconds=policy.quote_ttl)
    text = json.dumps([leg.to_json() for leg in legs], separators=(",", ":"))
    raw = _sqlite(conn)
    if raw is not None:
        stored = (now.astimezone(UTC).strftime(_AT), expires.astimezone(UTC).strftime(_AT))
        qid = raw.execute(_SQL_INSERT, (user_id, kind, target, text, OPEN, *stored)).fetchone()[0]
    else:
        qid = conn.execute(
            _INSERT,
            {
                "user_id": user_id,
                "kind": kind,
                "target": target,
                "legs": text,
                "state": OPEN,
                "created_at": now,
                "expires_at": expires,
            },
        ).scalar_one()
    return Quote(qid, user_id, kind, target, tuple(legs), OPEN, now, expires)


def quote_swap(
    conn: Connection,
    user_id: int,
    frm: str,
    to: str,
    amount: int | str,
    policy: Policy,
    *,
    now: datetime | None = None,
) -> Quote:
    """Price ``amount`` (minor units of ``frm``, or "all"/"half" of what the user holds) in ``to``
    and store the quote. Refuses what cannot be executed now: an unknown or unswappable coin, the
    same coin twice, more than held, below the minimum, past the daily limit, a pair without a
    price, an amount worth nothing after the fee, a swap liquidity cannot cover."""
    standing.require(conn, user_id, standing.SWAP)
    now = now or utcnow()
    frm, to = _pair(frm, to)
    held = ledger.balance(conn, user_account(user_id), frm).available
    if amount in (ALL, HALF):
        value = held if amount == ALL else held // 2
        if value <= 0:
            raise SwapError("nothing_held", asset=frm)
    elif isinstance(amount, int) and not isinstance(amount, bool) and amount > 0:
        value = amount
    else:
        raise SwapError("bad_amount", asset=frm)
    if value > held:
        raise InsufficientFunds(user_account(user_id), frm, value)
    leg = _leg(read_book(conn, (frm, to)), frm, to, value, policy, now)
    _check_daily(conn, user_id, frm, value, policy, now)
    _check_liquidity(conn, [leg])
    return _store(conn, user_id, SWAP, to, [leg], policy, now)


def quote_sweep(
    conn: Connection, user_id: int, target: str, policy: Policy, *, now: datetime | None = None
) -> Quote:
    """A quote converting every other coin the user holds into ``target``: one leg per coin with
    a balance; a coin without a price, below its minimum or worth nothing after the fee is listed
    as skipped. Refuses ("nothing_to_sweep") when no leg is left, and when liquidity cannot pay
    the total."""
    standing.require(conn, user_id, standing.SWAP)
    now = now or utcnow()
    target = swappable(target)
    book = read_book(conn)
    held = ledger.balances(conn, user_account(user_id))
    legs: list[Leg] = []
    for asset in SWAPPABLE:
        have = held[asset].available if asset in held else 0
        if asset == target or have <= 0:
            continue
        try:
            leg = _leg(book, asset, target, have, policy, now)
            _check_daily(conn, user_id, asset, have, policy, now)
        except SwapError as err:
            legs.append(_skipped(book, asset, target, have, policy, now, err.reason))
            continue
        legs.append(leg)
    if not any(leg.skip is None for leg in legs):
        raise SwapError("nothing_to_sweep", asset=target, skipped=len(legs))
    _check_liquidity(conn, [leg for leg in legs if leg.skip is None])
    return _store(conn, user_id, SWEEP, target, legs, policy, now)


def _skipped(
    book: Sequence[PriceRow], frm: str, to: str, amount: int, policy: Policy, now: datetime, reason: str
) -> Leg:
    """A sweep leg shown but not executed; priced when a price exists, so the preview can show it."""
    p_from = price_of(book, frm, now, policy.max_age, policy.dust_rate)
    p_to = price_of(book, to, now, policy.max_age, policy.dust_rate)
    skip = reason if reason in (SKIP_NO_PRICE, SKIP_BELOW_MIN, SKIP_DAILY_LIMIT) else SKIP_TOO_SMALL
    if p_from is None or p_to is None:
        return Leg(frm, to, amount, 0, 0, 0, 0, "0", "0", SKIP_NO_PRICE)
    leg = price_leg(amount, frm, to, p_from.usd, p_to.usd, policy.spread_for(frm, to), policy.fees.get(to, 0))
    return Leg(frm, to, amount, max(0, leg.amount_out), 0, 0, leg.spread_bp, leg.p_from, leg.p_to, skip)


# --- confirm ---------------------------------------------------------------------------------

_BY_ID = select(swap_quotes).where(swap_quotes.c.id == bindparam("i"))
_TAKE = (
    update(swap_quotes)
    .where(swap_quotes.c.id == bindparam("i"), swap_quotes.c.state == OPEN)
    .values(state=bindparam("st"), done_at=bindparam("now"))
)


# The same two statements straight through the SQLite writer's driver connection: they run on
# every confirm, and SQLAlchemy's per-statement cost is several times SQLite's own here.
_SQL_BY_ID = (
    "SELECT id, user_id, kind, target, legs, state, created_at, expires_at FROM swap_quotes WHERE id = ?"
)
_SQL_TAKE = "UPDATE swap_quotes SET state = ?, done_at = ? WHERE id = ? AND state = 'open'"


def _utc(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value).replace(tzinfo=UTC)


def get_quote(conn: Connection, user_id: int, quote_id: int) -> Quote:
    """The user's own quote; another user's or an unknown id is "quote_unknown" (a forged button)."""
    raw = _sqlite(conn)
    row: Any = (
        raw.execute(_SQL_BY_ID, (quote_id,)).fetchone()
        if raw is not None
        else conn.execute(_BY_ID, {"i": quote_id}).first()
    )
    if row is None or row[1] != user_id:
        raise SwapError("quote_unknown")
    qid, uid, kind, target, legs, state, created, expires = tuple(row)[:8]
    parsed = tuple(Leg.from_json(d) for d in json.loads(legs))
    return Quote(qid, uid, kind, target, parsed, state, _utc(created), _utc(expires))


def _take(conn: Connection, quote_id: int, state: str, now: datetime) -> bool:
    """Open -> ``state``, once: False when the quote was no longer open."""
    raw = _sqlite(conn)
    if raw is not None:
        at = now.astimezone(UTC).strftime(_AT)
        return raw.execute(_SQL_TAKE, (state, at, quote_id)).rowcount == 1
    return conn.execute(_TAKE, {"i": quote_id, "st": state, "now": now}).rowcount == 1


def _moved(quote: Quote, book: Sequence[PriceRow], policy: Policy, now: datetime) -> bool:
    for leg in quote.active:
        now_rate = Fraction(_usd(book, leg.frm, policy, now)) / Fraction(_usd(book, leg.to, policy, now))
        if moved_beyond(leg.rate(), now_rate, policy.max_slippage_bp):
            return True
    return False


def confirm_quote(
    conn: Connection, user_id: int, quote_id: int, policy: Policy, *, now: datetime | None = None
) -> Confirmation:
    """Execute the user's quote once (see the module's docstring), or give a fresh one."""
    standing.require(conn, user_id, standing.SWAP)
    now = now or utcnow()
    quote = get_quote(conn, user_id, quote_id)
    if quote.state == DONE:
        return Confirmation("already", quote)
    if quote.state == REPLACED:
        raise SwapError("quote_replaced")
    if quote.state == CANCELLED:
        raise SwapError("quote_cancelled")
    book = read_book(conn, {quote.target, *(leg.frm for leg in quote.active)})
    if now >= quote.expires_at or _moved(quote, book, policy, now):
        if not _take(conn, quote_id, REPLACED, now):
            return _raced(conn, user_id, quote_id)
        if quote.kind == SWAP:
            leg = quote.legs[0]
            fresh = quote_swap(conn, user_id, leg.frm, leg.to, leg.amount_in, policy, now=now)
        else:
            fresh = quote_sweep(conn, user_id, quote.target, policy, now=now)
        return Confirmation("requoted", fresh, quote)
    if not _take(conn, quote_id, DONE, now):
        return _raced(conn, user_id, quote_id)
    account = user_account(user_id)
    moves: list[ledger.Move] = []
    for i, leg in enumerate(quote.active):
        _add_volume(conn, user_id, leg.frm, leg.amount_in, policy, now)
        key, meta = f"{CODE}:{quote_id}:{i}", {"quote": quote_id}
        moves.append(ledger.Move(LIQUIDITY, account, leg.to, leg.amount_out, CODE, f"{key}:out", meta))
        if leg.spread + leg.fee:
            moves.append(
                ledger.Move(LIQUIDITY, FEES, leg.to, leg.spread + leg.fee, FEE_CODE, f"{key}:fee", meta)
            )
        moves.append(ledger.Move(account, LIQUIDITY, leg.frm, leg.amount_in, CODE, f"{key}:in", meta))
    try:
        ledger.transfer_many(conn, moves, now=now)
    except InsufficientFunds as err:
        if err.params.get("account") == LIQUIDITY:
            raise SwapError("no_liquidity", asset=err.params.get("asset")) from None
        raise
    return Confirmation(
        "done",
        Quote(
            quote.id, user_id, quote.kind, quote.target, quote.legs, DONE, quote.created_at, quote.expires_at
        ),
    )


def cancel_quote(conn: Connection, user_id: int, quote_id: int, *, now: datetime | None = None) -> Quote:
    """Cancel the user's open quote, so that no button can confirm it later; a done one stays done."""
    quote = get_quote(conn, user_id, quote_id)
    _take(conn, quote_id, CANCELLED, now or utcnow())
    return quote


def _raced(conn: Connection, user_id: int, quote_id: int) -> Confirmation:
    """Another confirm of the same quote committed first (PostgreSQL re-checks the row then)."""
    quote = get_quote(conn, user_id, quote_id)
    if quote.state == DONE:
        return Confirmation("already", quote)
    raise SwapError("quote_cancelled" if quote.state == CANCELLED else "quote_replaced")
