"""Reward points (RP): earned for activity, spent on boosts and freezes, converted into coins.

RP is a ledger asset (``RP``, whole points) that is never a coin: it cannot be withdrawn,
bet or sent anywhere but back to the platform. Points are created by the platform out of
nothing: each earning is a transfer from ``world`` (whose RP balance is minus the points
outstanding), and points spent return to ``world``. Lifetime points earned (for levels) and
earnings by source are read from the ledger: every earning has its own code.

Sources and their settings: a faucet claim ``rp.per.faucet``, a paid ad view ``rp.per.ad``, an
offerwall credit when released ``rp.per.offer`` (points per event), and games
``rp.per.wager.<ASSET>`` (points per whole coin wagered, rounded down).

``reward_paid`` is what a feature calls once it has paid a user a reward: it pays the points,
the running boost's extra and (faucet only) the level bonus, and counts the action for the
daily bonus. ``convert`` turns points into a coin at ``rp.rate.<ASSET>`` (coin per point),
paid from ``marketing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import InsufficientFunds
from core.identity import standing
from core.loyalty import boosts, levels
from core.loyalty.errors import LoyaltyError
from core.loyalty.tables import loyalty_activity, loyalty_users
from core.money import ASSETS, MARKETING, POINTS, WORLD, get_asset, ledger, user_account
from core.money import entries_table as entries
from core.money import transfers_table as transfers
from core.platform import Param, define, per_engine

RP = POINTS.code
SOURCES = ("faucet", "ad", "offer")  # points per event
WAGER = "wager"  # points per whole coin wagered
EARN_CODES = {  # ledger code of each way points are earned (for earnings by source)
    "faucet": "rp_faucet",
    "ad": "rp_ad",
    "offer": "rp_offer",
    "wager": "rp_wager",
    "checkin": "rp_checkin",
    "daily": "rp_daily",
}
CODE_BOOST_BONUS = "boost_bonus"
CODE_LEVEL_BONUS = "level_bonus"
CODE_CONVERT = "rp_convert"  # points returned
CODE_CONVERT_PAY = "rp_convert_pay"  # the coin paid for them

for _source, _default in (("faucet", "10"), ("ad", "5"), ("offer", "20")):
    define(f"rp.per.{_source}", _default, "int", minimum=0, maximum=1_000_000)
_WAGER = {"BTC": "100000", "LTC": "1000", "DOGE": "1", "USDT": "10", "TRX": "1", "DUST": "1"}
_RATES = {"BTC": "0", "LTC": "0", "DOGE": "0.001", "USDT": "0.0001", "TRX": "0.001", "DUST": "0.01"}
for _code in ASSETS:
    define(f"rp.per.wager.{_code}", _WAGER.get(_code, "0"), "int", minimum=0, maximum=10**12)
    define(f"rp.rate.{_code}", _RATES.get(_code, "0"), "amount", asset=_code)


def _check_tiers(p: Param, value: object) -> None:
    from core.errors import InvalidParam

    try:
        parse_tiers(str(value))
    except ValueError:
        raise InvalidParam("bad_value", key=p.key, value=str(value)[:40], kind=p.kind) from None


def parse_tiers(raw: str) -> tuple[tuple[int, int], ...]:
    """``1:5,5:15,20:40`` (actions that day : points) -> rising (actions, points) pairs."""
    out: list[tuple[int, int]] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        actions, sep, points = part.partition(":")
        if not sep or not (actions.isascii() and actions.isdigit() and points.isascii() and points.isdigit()):
            raise ValueError(part)
        a, p = int(actions), int(points)
        if a <= 0 or p > 10**9 or len(actions) > 9 or (out and a <= out[-1][0]):
            raise ValueError(part)
        out.append((a, p))
    return tuple(out)


define("rp.daily.base", "10", "int", minimum=0, maximum=10**9)
define("rp.daily.step", "5", "int", minimum=0, maximum=10**9)
define("rp.daily.max", "100", "int", minimum=0, maximum=10**9)
define("rp.freeze.price", "200", "int", minimum=1, maximum=10**12)
define("rp.freeze.max", "2", "int", minimum=0, maximum=100)
define("rp.bonus.tiers", "1:5,5:15,20:40", "text", check=_check_tiers)


class ParamSource(Protocol):
    def get(self, key: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Rules:
    """The loyalty settings in force (read from core.platform.params by the caller)."""

    per_source: Mapping[str, int]
    per_wager: Mapping[str, int]
    rates: Mapping[str, int]
    daily_base: int = 10
    daily_step: int = 5
    daily_max: int = 100
    freeze_price: int = 200
    freeze_max: int = 2
    tiers: tuple[tuple[int, int], ...] = ()
    boosts: tuple[boosts.Choice, ...] = ()
    levels: tuple[levels.Level, ...] = (levels.Level(0, 0, 0),)

    def daily_points(self, streak: int) -> int:
        """What a check-in on day ``streak`` of a streak pays: base + step per day after the first, capped."""
        return max(0, min(self.daily_base + self.daily_step * max(0, streak - 1), self.daily_max))

    def bonus_points(self, actions: int) -> int:
        """The daily bonus for ``actions`` rewarded actions in a day: the highest tier reached."""
        points = 0
        for need, pay in self.tiers:
            if actions >= need:
                points = pay
        return points


def rules_from(params: ParamSource) -> Rules:
    return Rules(
        per_source={s: int(params.get(f"rp.per.{s}")) for s in SOURCES},
        per_wager={a: int(params.get(f"rp.per.wager.{a}")) for a in ASSETS},
        rates={a: int(params.get(f"rp.rate.{a}")) for a in ASSETS},
        daily_base=int(params.get("rp.daily.base")),
        daily_step=int(params.get("rp.daily.step")),
        daily_max=int(params.get("rp.daily.max")),
        freeze_price=int(params.get("rp.freeze.price")),
        freeze_max=int(params.get("rp.freeze.max")),
        tiers=parse_tiers(str(params.get("rp.bonus.tiers"))),
        boosts=boosts.parse_choices(str(params.get("rp.boosts"))),
        levels=levels.parse_levels(str(params.get("rp.levels"))),
    )


EPOCH_DAY = datetime(1970, 1, 1, tzinfo=UTC)


def day_of(now: datetime) -> int:
    """The UTC day of ``now``, as days since 1970-01-01."""
    return (now.astimezone(UTC).date() - EPOCH_DAY.date()).days


def _dialect(conn: Connection) -> Any:
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def ensure_row(conn: Connection, user_id: int) -> None:
    ins = _dialect(conn).insert(loyalty_users).values(user_id=user_id)
    conn.execute(ins.on_conflict_do_nothing(index_elements=[loyalty_users.c.user_id]))


def _count(insert: Any) -> Any:
    ins = insert(loyalty_activity).values(day=bindparam("d"), user_id=bindparam("u"), actions=1)
    return ins.on_conflict_do_update(
        index_elements=[loyalty_activity.c.day, loyalty_activity.c.user_id],
        set_={"actions": loyalty_activity.c.actions + 1},
    )


_COUNT = per_engine(_count)  # built once: it runs with every reward


def count_action(conn: Connection, user_id: int, now: datetime) -> None:
    """One rewarded action of ``user_id`` today (for the daily bonus)."""
    conn.execute(_COUNT.of(conn), {"d": day_of(now), "u": user_id})


def earn(
    conn: Connection, user_id: int, source: str, points: int, *, key: str, now: datetime
) -> ledger.Transfer | None:
    """Pay ``points`` RP for ``source`` (a key of EARN_CODES), key ``rp:{key}``; None for 0 points."""
    if points <= 0:
        return None
    return ledger.transfer(
        conn,
        debit=WORLD,
        credit=user_account(user_id),
        asset=RP,
        amount=points,
        code=EARN_CODES[source],
        key=f"rp:{key}",
        now=now,
    )


@dataclass(frozen=True, slots=True)
class Extras:
    """What ``reward_paid`` added to a reward: points, the boost's extra, the level's extra."""

    points: int = 0
    boost: ledger.Transfer | None = None
    level: ledger.Transfer | None = None

    @property
    def bonus(self) -> int:
        """The extra coin paid on top of the reward (boost + level), minor units of its asset."""
        return sum(t.amount for t in (self.boost, self.level) if t is not None and not t.replayed)


def _extra(
    conn: Connection,
    user_id: int,
    asset: str,
    amount: int,
    code: str,
    key: str,
    meta: dict[str, Any],
    now: datetime,
) -> ledger.Transfer | None:
    if amount <= 0:
        return None
    try:
        return ledger.transfer(
            conn,
            debit=MARKETING,
            credit=user_account(user_id),
            asset=asset,
            amount=amount,
            code=code,
            key=key,
            meta=meta,
            now=now,
        )
    except InsufficientFunds:  # marketing is dry: the reward stands without its extra
        return None


def reward_paid(
    conn: Connection,
    rules: Rules,
    user_id: int,
    source: str,
    asset: str,
    amount: int,
    key: str,
    now: datetime,
) -> Extras:
    """Call once a feature has paid ``user_id`` a reward of ``amount`` (minor units of ``asset``)
    under ledger key ``key``, in the same transaction, only when that transfer was new.

    ``source``: ``faucet``, ``ad``, ``offer`` (RP per event, ``rp.per.<source>``) or ``wager``
    (``amount`` is then the stake: RP per whole coin, ``rp.per.wager.<ASSET>``). Pays, each
    idempotent on a key derived from ``key``:
    - the points, world -> user, key ``rp:{key}``;
    - the running boost's extra (faucet, ad, offer), ``amount * boost // 10000`` from
      marketing, key ``boost:{key}``, code ``boost_bonus``: the returned ``Extras.boost``;
    - for the faucet, the level's permanent bonus the same way, key ``level:{key}``;
    and counts one action of the day for the daily bonus. An extra marketing cannot pay is
    skipped; the reward itself is never undone.
    """
    if source == WAGER:
        points = amount * rules.per_wager.get(asset, 0) // get_asset(asset).unit
    elif source in SOURCES:
        points = rules.per_source.get(source, 0)
    else:
        raise ValueError(f"unknown reward source {source!r}")
    earned = earn(conn, user_id, source, points, key=key, now=now)
    if earned is not None and earned.replayed:  # this reward was seen before: nothing more
        return Extras(points)
    if source != WAGER or points > 0:  # dust-sized bets never buy a bonus tier
        count_action(conn, user_id, now)
    boost_t = level_t = None
    if source in boosts.BOOSTED_SOURCES:
        running = boosts.active(conn, user_id, now)
        if running is not None:
            boost_t = _extra(
                conn,
                user_id,
                asset,
                amount * running.bp // 10000,
                CODE_BOOST_BONUS,
                f"boost:{key}",
                {"source": source, "bp": running.bp},
                now,
            )
    if source == "faucet":
        lv = levels.progress(rules.levels, lifetime_points(conn, user_id)).level
        if lv.bonus_bp > 0:
            level_t = _extra(
                conn,
                user_id,
                asset,
                amount * lv.bonus_bp // 10000,
                CODE_LEVEL_BONUS,
                f"level:{key}",
                {"level": lv.number, "bp": lv.bonus_bp},
                now,
            )
    return Extras(points, boost_t, level_t)


_LIFETIME = select(func.coalesce(func.sum(entries.c.amount), 0)).where(
    entries.c.owner == bindparam("o"), entries.c.asset == RP, entries.c.amount > 0
)  # built once: it runs with every faucet claim


def lifetime_points(conn: Connection, user_id: int) -> int:
    """Every reward point ``user_id`` ever earned (spending does not lower it)."""
    got = conn.execute(_LIFETIME, {"o": user_account(user_id)}).scalar()
    return int(got or 0)


def earned_by_source(conn: Connection, user_id: int) -> dict[str, int]:
    """Lifetime points by source (keys of EARN_CODES), largest first; sources never used are absent."""
    by_code = {code: source for source, code in EARN_CODES.items()}
    rows = conn.execute(
        select(transfers.c.code, func.sum(entries.c.amount))
        .select_from(entries.join(transfers, transfers.c.id == entries.c.transfer_id))
        .where(and_(entries.c.owner == user_account(user_id), entries.c.asset == RP, entries.c.amount > 0))
        .group_by(transfers.c.code)
    )
    got = {by_code[r[0]]: int(r[1]) for r in rows if r[0] in by_code}
    return dict(sorted(got.items(), key=lambda kv: -kv[1]))


@dataclass(frozen=True, slots=True)
class Quote:
    points: int
    asset: str
    amount: int  # minor units of asset


def quote(rules: Rules, points: int, asset: str) -> Quote:
    """What ``points`` RP buy of ``asset`` now. Refuses fractional, zero or negative points
    (bad_points), a coin the admins did not price (convert_off), and a quote worth nothing."""
    code = get_asset(asset).code
    if type(points) is not int or points <= 0 or points > 10**15:
        raise LoyaltyError("bad_points")
    rate = rules.rates.get(code, 0)
    if rate <= 0:
        raise LoyaltyError("convert_off", asset=code)
    return Quote(points, code, points * rate)


def convert(
    conn: Connection,
    rules: Rules,
    user_id: int,
    points: int,
    asset: str,
    expected: int,
    *,
    key: str,
    now: datetime,
) -> Quote:
    """Turn ``points`` RP into ``asset`` at the rate in force, if it still pays ``expected``
    (the quote the user confirmed; else quote_changed). Points go back to world (key
    ``rp:convert:{key}``), the coin comes from marketing (key ``convert:{key}``). A replayed
    confirmation returns the first conversion and moves nothing.
    """
    standing.require(conn, user_id, standing.SWAP)
    q = quote(rules, points, asset)
    done = ledger.get_transfer(conn, key=f"convert:{key}")
    if done is not None:
        return Quote(points, done.asset, done.amount)
    if q.amount != expected:
        raise LoyaltyError("quote_changed")
    if ledger.balance(conn, user_account(user_id), RP).available < points:
        raise LoyaltyError("not_enough_points", need=points)
    if ledger.balance(conn, MARKETING, q.asset).available < q.amount:
        raise LoyaltyError("convert_dry", asset=q.asset)
    ledger.transfer(
        conn,
        debit=user_account(user_id),
        credit=WORLD,
        asset=RP,
        amount=points,
        code=CODE_CONVERT,
        key=f"rp:convert:{key}",
        meta={"asset": q.asset},
        now=now,
    )
    ledger.transfer(
        conn,
        debit=MARKETING,
        credit=user_account(user_id),
        asset=q.asset,
        amount=q.amount,
        code=CODE_CONVERT_PAY,
        key=f"convert:{key}",
        meta={"points": points},
        now=now,
    )
    return q
