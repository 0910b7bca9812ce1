"""Prices: the USD price of each coin, from several sources, and the rate swaps use.

Each source (core.exchange.sources) is polled by a job (jobs/prices.py, every ``prices.every``);
what it read is recorded here per (source, coin) with the time it was read. A price older than
``prices.max_age`` is stale. The price in force for a coin is the median of its sources' fresh
prices; while every source is stale, an admin's manual price (``/rates set``, source "manual")
is used if there is one; else the coin has no price and swaps with it pause.

A price that moved more than ``prices.max_jump`` from the source's last accepted one in one
poll is held back (``held_price``) until another source confirms it (a fresh price within
``prices.max_jump`` of it): one bad feed cannot move the rate alone.

DUST is not on public markets: its price is the setting ``swap.rate.DUST`` (USD per DUST, "0":
none). Coins in NON_SWAPPABLE (RP, reward points: they convert through /convert) have no price.

Prices are ``Decimal`` parsed from decimal text (never through float) and stored as text.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import DomainError
from core.exchange.quotes import moved_beyond
from core.exchange.tables import exchange_prices, exchange_sources
from core.money import ASSETS
from core.platform import audit, define, notices, utcnow

COINGECKO, BINANCE, MANUAL = "coingecko", "binance", "manual"
SOURCES: tuple[str, ...] = (COINGECKO, BINANCE)
# Never swapped here, whether or not the ledger knows them yet: reward points convert through /convert.
NON_SWAPPABLE: frozenset[str] = frozenset({"RP"})
# Not on public markets: priced by the admins' setting swap.rate.<ASSET>.
ADMIN_PRICED: frozenset[str] = frozenset({"DUST"})
# What the sources are asked for.
MARKET_ASSETS: tuple[str, ...] = tuple(
    code for code in ASSETS if code not in NON_SWAPPABLE and code not in ADMIN_PRICED
)

MIN_PRICE = Decimal("0.000000000001")
MAX_PRICE = Decimal("1000000000000")
_PRICE_TEXT = re.compile(r"[0-9]{1,13}(\.[0-9]{1,24})?", re.ASCII)

define("prices.every", "60s", "duration", minimum=1, maximum=3600)
define("prices.max_age", "5m", "duration", minimum=10, maximum=7 * 86400)
define("prices.max_jump", "10%", "share", minimum=1, maximum=10000)


class BadPrice(DomainError):
    """A price that is not a positive decimal within MIN_PRICE..MAX_PRICE (reason bad_price)."""

    reason = "bad_price"


def parse_price(raw: object) -> Decimal:
    """A price as a source or an admin writes it: decimal text, or a Decimal that json.loads made
    with ``parse_float=Decimal``. Zero, negative, NaN, infinite or absurd prices are refused."""
    if isinstance(raw, bool) or not isinstance(raw, str | Decimal | int):
        raise BadPrice(value=str(raw)[:40])
    if isinstance(raw, str):
        text = raw.strip().replace(",", ".")
        if not _PRICE_TEXT.fullmatch(text):
            raise BadPrice(value=raw[:40])
        value = Decimal(text)
    else:
        value = Decimal(raw)
    if not value.is_finite() or not MIN_PRICE <= value <= MAX_PRICE:
        raise BadPrice(value=str(raw)[:40])
    return value


def price_text(value: Decimal) -> str:
    """A price as stored and shown: plain digits, no exponent, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def median(values: Iterable[Decimal]) -> Decimal:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of nothing")
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    with localcontext() as ctx:
        ctx.prec = 80  # (a + b) / 2 of two decimals is exact with one digit more than they have
        return (ordered[mid - 1] + ordered[mid]) / 2


def jumped(old: Decimal, new: Decimal, max_jump_bp: int) -> bool:
    return moved_beyond(Fraction(old), Fraction(new), max_jump_bp)


# --- what is stored ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceRow:
    source: str
    asset: str
    price: Decimal | None
    fetched_at: datetime | None
    held_price: Decimal | None
    held_at: datetime | None

    def fresh(self, now: datetime, max_age: int) -> bool:
        return (
            self.price is not None
            and self.fetched_at is not None
            and now - self.fetched_at <= timedelta(seconds=max_age)
        )

    def held_fresh(self, now: datetime, max_age: int) -> bool:
        return (
            self.held_price is not None
            and self.held_at is not None
            and now - self.held_at <= timedelta(seconds=max_age)
        )


_BOOK = select(exchange_prices)
_BOOK_OF = select(exchange_prices).where(exchange_prices.c.asset.in_(bindparam("a", expanding=True)))


_SQL_BOOK = "SELECT source, asset, price, fetched_at, held_price, held_at FROM exchange_prices"


def _utc(text: str | None) -> datetime | None:
    """A UTCDateTime as SQLite stores it (naive UTC text) -> an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


def read_book(conn: Connection, assets: Collection[str] | None = None) -> list[PriceRow]:
    """The stored prices (a handful of rows: sources x coins), of ``assets`` only when given.

    Read on every quote and confirm: on SQLite straight through the driver, as the ledger's hot
    path does (SQLAlchemy's per-statement cost is several times SQLite's own here)."""
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):  # the writer's connection (reads go through aiosqlite)
        cur = driver.cursor()
        try:
            raw = cur.execute(_SQL_BOOK).fetchall()
        finally:
            cur.close()
        return [
            PriceRow(s, a, Decimal(p) if p else None, _utc(f), Decimal(h) if h else None, _utc(ha))
            for s, a, p, f, h, ha in raw
            if assets is None or a in assets
        ]
    rows = conn.execute(_BOOK) if assets is None else conn.execute(_BOOK_OF, {"a": list(assets)})
    return [
        PriceRow(
            r.source,
            r.asset,
            Decimal(r.price) if r.price else None,
            r.fetched_at,
            Decimal(r.held_price) if r.held_price else None,
            r.held_at,
        )
        for r in rows
    ]


def _upsert(conn: Connection) -> Callable[[Table], Any]:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _put(conn: Connection, source: str, asset: str, values: dict[str, object]) -> None:
    ins = _upsert(conn)(exchange_prices).values(source=source, asset=asset, **values)
    conn.execute(ins.on_conflict_do_update(index_elements=["source", "asset"], set_=values))


def _put_source(conn: Connection, source: str, values: dict[str, object]) -> None:
    ins = _upsert(conn)(exchange_sources).values(source=source, **values)
    conn.execute(ins.on_conflict_do_update(index_elements=["source"], set_=values))


# --- the price in force -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    usd: Decimal
    origin: str  # "market" (median of fresh sources) | "manual" | "setting" (swap.rate.<ASSET>)
    sources: int = 0


def price_of(
    book: Iterable[PriceRow], asset: str, now: datetime, max_age: int, dust_rate: Decimal | None
) -> Price | None:
    """The USD price in force for ``asset``, or None: then swaps with it pause."""
    if asset in NON_SWAPPABLE or asset not in ASSETS:
        return None
    if asset in ADMIN_PRICED:
        return Price(dust_rate, "setting") if dust_rate is not None and dust_rate > 0 else None
    fresh: list[Decimal] = []
    manual: Decimal | None = None
    for row in book:
        if row.asset != asset or row.price is None:
            continue
        if row.source == MANUAL:
            manual = row.price
        elif row.fresh(now, max_age):
            fresh.append(row.price)
    if fresh:
        return Price(median(fresh), "market", len(fresh))
    return Price(manual, "manual") if manual is not None else None


# --- recording a poll ---------------------------------------------------------------------


def source_due(conn: Connection, source: str, now: datetime | None = None) -> bool:
    """False while a source's Retry-After (429, 418) has not passed."""
    now = now or utcnow()
    retry_at = conn.execute(
        select(exchange_sources.c.retry_at).where(exchange_sources.c.source == source)
    ).scalar()
    return retry_at is None or retry_at <= now


def record_prices(
    conn: Connection,
    source: str,
    got: Mapping[str, Decimal],
    *,
    max_jump_bp: int,
    max_age: int,
    now: datetime | None = None,
) -> list[str]:
    """Store what ``source`` read; return the coins whose new price is held back (a jump).

    A coin's first price is accepted. A later one is accepted unless it moved more than
    ``max_jump_bp`` from this source's last accepted price; then it waits in ``held_price`` until
    another source's fresh price (accepted or held) lies within ``max_jump_bp`` of it.
    """
    now = now or utcnow()
    mine = {r.asset: r for r in read_book(conn) if r.source == source}
    held: list[str] = []
    for asset, price in got.items():
        if asset not in MARKET_ASSETS:
            continue
        last = mine.get(asset)
        if last is None or last.price is None or not jumped(last.price, price, max_jump_bp):
            _put(
                conn,
                source,
                asset,
                {"price": price_text(price), "fetched_at": now, "held_price": None, "held_at": None},
            )
        else:
            _put(conn, source, asset, {"held_price": price_text(price), "held_at": now})
            held.append(asset)
    _put_source(conn, source, {"polled_at": now, "error": None, "retry_at": None})
    confirmed = confirm_held(conn, max_jump_bp=max_jump_bp, max_age=max_age, now=now)
    return [a for a in held if (source, a) not in confirmed]


def confirm_held(conn: Connection, *, max_jump_bp: int, max_age: int, now: datetime) -> set[tuple[str, str]]:
    """Accept every held price that another source confirms; return the (source, coin) accepted."""
    book = [r for r in read_book(conn) if r.source != MANUAL]
    accepted: set[tuple[str, str]] = set()
    for row in book:
        if row.held_price is None or not row.held_fresh(now, max_age):
            continue
        seconds = [
            p
            for other in book
            if other.asset == row.asset and other.source != row.source
            for p in (
                other.price if other.fresh(now, max_age) else None,
                other.held_price if other.held_fresh(now, max_age) else None,
            )
            if p is not None
        ]
        if any(not jumped(row.held_price, p, max_jump_bp) for p in seconds):
            _put(
                conn,
                row.source,
                row.asset,
                {
                    "price": price_text(row.held_price),
                    "fetched_at": row.held_at,
                    "held_price": None,
                    "held_at": None,
                },
            )
            accepted.add((row.source, row.asset))
    return accepted


MAX_RETRY_AFTER = 86400


def record_failure(
    conn: Connection, source: str, error: str, *, retry_after: int = 0, now: datetime | None = None
) -> None:
    """A poll that failed (``error``: short, no secrets); ``retry_after`` seconds (429/418) before the next."""
    now = now or utcnow()
    wait = max(0, min(int(retry_after), MAX_RETRY_AFTER))
    _put_source(
        conn,
        source,
        {"polled_at": now, "error": error[:200], "retry_at": now + timedelta(seconds=wait) if wait else None},
    )


# --- staleness: admins are told once ------------------------------------------------------


def warn_stale(
    conn: Connection, admin_ids: Iterable[int], *, max_age: int, now: datetime | None = None
) -> list[str]:
    """Coins that had a market price and have no fresh one left; each admin is told once per
    such spell (notice ``prices_stale``, key ``prices_stale:{asset}:{last read}:{admin}``)."""
    now = now or utcnow()
    book = [r for r in read_book(conn) if r.asset in MARKET_ASSETS]
    stale: list[str] = []
    for asset in MARKET_ASSETS:
        rows = [r for r in book if r.asset == asset and r.source != MANUAL and r.fetched_at is not None]
        if not rows or any(r.fresh(now, max_age) for r in rows):
            continue  # never priced yet (a new install offline), or still fresh
        stale.append(asset)
        last = max(r.fetched_at for r in rows if r.fetched_at is not None)
        manual = any(r.source == MANUAL and r.asset == asset and r.price is not None for r in book)
        for admin_id in admin_ids:
            notices.enqueue(
                conn,
                admin_id,
                "prices_stale",
                {"asset": asset, "since": last.strftime("%Y-%m-%d %H:%M UTC"), "manual": manual},
                key=f"prices_stale:{asset}:{int(last.timestamp())}:{admin_id}",
                now=now,
            )
    return stale


# --- admins: manual prices and the report -------------------------------------------------


def set_manual_price(
    conn: Connection, asset: str, usd: Decimal | None, *, admin_id: int, now: datetime | None = None
) -> None:
    """Set (or with None clear) the manual USD price of a market coin, used only while every
    source is stale. Audited as ``rate_set``."""
    now = now or utcnow()
    if usd is None:
        conn.execute(
            delete(exchange_prices).where(
                exchange_prices.c.source == MANUAL, exchange_prices.c.asset == asset
            )
        )
    else:
        _put(
            conn,
            MANUAL,
            asset,
            {"price": price_text(usd), "fetched_at": now, "held_price": None, "held_at": None},
        )
    audit.record(
        conn,
        "rate_set",
        actor=admin_id,
        target=asset,
        usd=price_text(usd) if usd is not None else "off",
        now=now,
    )


@dataclass(frozen=True, slots=True)
class SourceState:
    source: str
    polled_at: datetime | None
    retry_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Report:
    rows: list[PriceRow]
    sources: list[SourceState]


def report(conn: Connection) -> Report:
    """Everything /rates shows: each source's last price per coin (and any held one), manual prices,
    and each source's last poll, error and Retry-After."""
    srcs = {
        r.source: SourceState(r.source, r.polled_at, r.retry_at, r.error)
        for r in conn.execute(select(exchange_sources))
    }
    return Report(
        read_book(conn),
        [srcs.get(name, SourceState(name, None, None, None)) for name in SOURCES],
    )
