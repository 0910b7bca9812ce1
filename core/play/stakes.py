"""What a player may stake: bet size, the house's exposure, and responsible-play limits.

Shared by the seeded games (core.play.games) and crash (core.play.crash). Every check here runs inside
the use case's transaction, right before the stake moves, so nothing can slip in between.

Settings (admins change them with /set): ``games.edge`` (house edge, basis points),
``games.min_bet.<ASSET>`` / ``games.max_bet.<ASSET>`` (minor units), ``games.max_profit``
(share of the house balance one bet may win, basis points), ``games.limbo.max_target``
(hundredths), ``crash.max_round_profit`` (share of the house one crash round's bets may win
together; core.play.crash reserves it at join). Self-exclusion lasts 1, 7 or 30 days and cannot be shortened; a daily loss
limit can be lowered at once but raised or removed only 24 hours after its last change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, select

from core.errors import DomainError, InsufficientFunds
from core.loyalty import Rules as LoyaltyRules
from core.loyalty import rules_from
from core.money import ASSETS, HOUSE, accounts_table, ledger, user_account
from core.platform import insert_for, params, utcnow
from core.play.tables import bets, crash_bets, loss_limits, play_limits

EXCLUSION_DAYS = (1, 7, 30)
RAISE_COOLDOWN = timedelta(hours=24)

_MIN = {"BTC": "0.00000010", "LTC": "0.00000100", "DOGE": "0.0001", "USDT": "0.0001", "TRX": "0.0001"}
_MAX = {"BTC": "0.001", "LTC": "0.01", "DOGE": "100", "USDT": "10", "TRX": "100"}
params.define("games.edge", "1%", "share", maximum=2000)
params.define("games.max_profit", "1%", "share", minimum=1)
params.define("games.limbo.max_target", "100000", "int", minimum=101, maximum=100_000_000)
params.define("crash.max_round_profit", "5%", "share", minimum=1)
for _code in ASSETS:
    params.define(f"games.min_bet.{_code}", _MIN.get(_code, "0.000001"), "amount", asset=_code)
    params.define(f"games.max_bet.{_code}", _MAX.get(_code, "1000"), "amount", asset=_code)


class GameRefused(DomainError):
    """reason: below_min(min) | above_max(max) | max_profit(limit) | self_excluded(until) |
    loss_limit(limit, left) | seeds_changed | seeds_unreadable | not_found | limit_raise_locked(after) |
    exclusion_locked(until) | bad_period. Amount params are ints in minor units with ``asset``."""


@dataclass(frozen=True, slots=True)
class Rules:
    """The settings that decide one bet, read once by the handler (plain ints)."""

    edge_bp: int
    min_bet: int
    max_bet: int
    max_profit_bp: int
    limbo_max: int
    round_profit_bp: int = 500  # crash: what one round's bets may win together, share of the house
    loyalty: LoyaltyRules | None = None  # reward points per coin wagered (core.loyalty); None: none


def rules_for(p: params.Params, asset: str) -> Rules:
    """The games' rules for ``asset``, built once per settings load (every bet reads them)."""
    return p.derived(("games", asset), lambda: _rules(p, asset))


def _rules(p: params.Params, asset: str) -> Rules:
    return Rules(
        edge_bp=p.get("games.edge"),
        min_bet=p.get(f"games.min_bet.{asset}"),
        max_bet=p.get(f"games.max_bet.{asset}"),
        max_profit_bp=p.get("games.max_profit"),
        limbo_max=p.get("games.limbo.max_target"),
        round_profit_bp=p.get("crash.max_round_profit"),
        loyalty=rules_from(p),
    )


_EXCLUDED = select(play_limits.c.excluded_until).where(play_limits.c.user_id == bindparam("u"))
_LIMIT = select(loss_limits.c.daily, loss_limits.c.changed_at).where(
    loss_limits.c.user_id == bindparam("u"), loss_limits.c.asset == bindparam("s")
)
# Both limits in one round trip (most players have neither: two NULLs).
_PLAYER_LIMITS = select(
    _EXCLUDED.scalar_subquery(),
    select(loss_limits.c.daily)
    .where(loss_limits.c.user_id == bindparam("u"), loss_limits.c.asset == bindparam("s"))
    .scalar_subquery(),
)
_SEEDED_LOSS = select(func.coalesce(func.sum(bets.c.amount - bets.c.payout), 0)).where(
    bets.c.user_id == bindparam("u"), bets.c.asset == bindparam("s"), bets.c.created_at >= bindparam("t")
)
_CRASH_LOSS = select(func.coalesce(func.sum(crash_bets.c.amount - crash_bets.c.payout), 0)).where(
    crash_bets.c.user_id == bindparam("u"),
    crash_bets.c.asset == bindparam("s"),
    crash_bets.c.created_at >= bindparam("t"),
)


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


# What a seeded bet reads before it writes, in one round trip: a bet already placed for this
# update, both limits, and what the house has free (for max_profit).
_BET_READS = select(
    select(bets.c.id).where(bets.c.idem == bindparam("k")).scalar_subquery(),
    _EXCLUDED.scalar_subquery(),
    select(loss_limits.c.daily)
    .where(loss_limits.c.user_id == bindparam("u"), loss_limits.c.asset == bindparam("s"))
    .scalar_subquery(),
    select(accounts_table.c.balance - accounts_table.c.debits_pending)
    .where(accounts_table.c.owner == HOUSE, accounts_table.c.asset == bindparam("s"))
    .scalar_subquery(),
)


@dataclass(frozen=True, slots=True)
class BetReads:
    prior_id: int | None  # the bet already placed under this idempotency key
    limits: tuple[datetime | None, int | None]  # (excluded until, daily loss limit), as check_stake reads
    cap: int  # max_profit: the most one bet may win now


def bet_reads(conn: Connection, user_id: int, asset: str, idem: str, rules: Rules) -> BetReads:
    """Everything ``games.place_bet`` reads before it writes, in one statement."""
    prior, until, daily, house = conn.execute(_BET_READS, {"k": idem, "u": user_id, "s": asset}).one()
    return BetReads(prior, (until, daily), (house or 0) * rules.max_profit_bp // 10_000)


def loss_today(conn: Connection, user_id: int, asset: str, now: datetime) -> int:
    """Net loss (stakes minus payouts, open crash stakes counted as lost) since 00:00 UTC."""
    args = {"u": user_id, "s": asset, "t": day_start(now)}
    lost: int = conn.execute(_SEEDED_LOSS, args).scalar_one() + conn.execute(_CRASH_LOSS, args).scalar_one()
    return lost


def check_stake(
    conn: Connection,
    user_id: int,
    asset: str,
    amount: int,
    max_payout: int,
    rules: Rules,
    now: datetime,
    *,
    cap: int | None = None,
    game: str = "",
    limits: tuple[datetime | None, int | None] | None = None,
) -> None:
    """Refuse a stake that breaks a bet-size rule, a player's limit, or the house's exposure.

    ``max_payout`` is the most this bet can pay back (stake included), in minor units; ``cap``
    is ``max_profit`` when the caller has read it already in this transaction; ``game`` names
    the game in a ``max_profit`` refusal (what the player can lower depends on it); ``limits``
    is (excluded until, daily loss limit) when the caller has read them already (``bet_reads``).
    """
    if amount < rules.min_bet:
        raise GameRefused("below_min", min=rules.min_bet, asset=asset)
    if amount > rules.max_bet:
        raise GameRefused("above_max", max=rules.max_bet, asset=asset)
    until, daily = (
        limits if limits is not None else conn.execute(_PLAYER_LIMITS, {"u": user_id, "s": asset}).one()
    )
    if until is not None and until > now:
        raise GameRefused("self_excluded", until=until)
    if daily is not None:
        lost = loss_today(conn, user_id, asset, now)
        if lost + amount > daily:
            raise GameRefused("loss_limit", limit=daily, left=max(0, daily - lost), asset=asset)
    if cap is None:
        cap = max_profit(conn, asset, rules)
    if max_payout - amount > cap:
        raise GameRefused("max_profit", limit=cap, asset=asset, game=game)


STEP_MAX = 10**15  # the ×2 button stops here: far above any max bet, and short in callback data


def step_stake(amount: int, step: str) -> int:
    """The bet panels' ½ and ×2 buttons (minor units): "half" never goes below 1, "dbl" never
    above ``STEP_MAX``; any other step keeps ``amount``."""
    if step == "half":
        return max(1, amount // 2)
    if step == "dbl":
        return min(amount * 2, STEP_MAX)
    return amount


@dataclass(frozen=True, slots=True)
class StakeRange:
    """What a bet panel may offer for one coin and one bet shape (minor units)."""

    min: int  # games.min_bet
    max: int  # the largest stake now: max bet, what the player has, the profit cap; may be < min
    available: int  # the player's available balance
    cap: int  # the most one bet may win (max_profit)

    def half(self, amount: int) -> int:
        """½: half the stake, never below the smallest bet."""
        return max(self.min, step_stake(amount, "half"))

    def double(self, amount: int) -> int:
        """×2: twice the stake, never above the largest possible one (when there is one)."""
        doubled = step_stake(amount, "dbl")
        return min(doubled, self.max) if self.max >= self.min else doubled

    def top(self, asset: str, user_id: int) -> int:
        """Max: the largest stake, or a refusal saying what is missing."""
        if self.max >= self.min:
            return self.max
        if self.available < self.min:
            raise InsufficientFunds(user_account(user_id), asset, self.min, have=self.available)
        raise GameRefused("max_profit", limit=self.cap, asset=asset)


def stake_range(conn: Connection, user_id: int, asset: str, max_mult_x10k: int, rules: Rules) -> StakeRange:
    """The stakes a bet that can multiply by at most ``max_mult_x10k`` (ten-thousandths) may
    take now: within the bet size rules, the player's available balance and ``max_profit``."""
    available = max(0, ledger.balance(conn, user_account(user_id), asset).available)
    cap = max_profit(conn, asset, rules)
    top = min(rules.max_bet, available)
    if max_mult_x10k > 10_000:
        top = min(top, cap * 10_000 // (max_mult_x10k - 10_000))
    return StakeRange(rules.min_bet, top, available, cap)


def coins_held(conn: Connection, user_id: int) -> list[str]:
    """The coins the player has something available in, registry order (what a bet can use)."""
    return [code for code, b in ledger.balances(conn, user_account(user_id)).items() if b.available > 0]


def max_profit(conn: Connection, asset: str, rules: Rules) -> int:
    """The most one bet may win (payout minus stake): a share of what the house holds."""
    return ledger.balance(conn, HOUSE, asset).available * rules.max_profit_bp // 10_000


# --- limits --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    excluded_until: datetime | None
    daily: dict[str, tuple[int, datetime]]  # asset -> (limit, changed_at)


def get_limits(conn: Connection, user_id: int, now: datetime | None = None) -> Limits:
    """The player's limits in force at ``now``: a pause that has ended is no longer one."""
    until = conn.execute(_EXCLUDED, {"u": user_id}).scalar()
    if until is not None and until <= (now or utcnow()):
        until = None
    rows = conn.execute(select(loss_limits).where(loss_limits.c.user_id == user_id))
    return Limits(until, {r.asset: (r.daily, r.changed_at) for r in rows})


def set_loss_limit(
    conn: Connection, user_id: int, asset: str, daily: int | None, now: datetime | None = None
) -> Limits:
    """Set (``daily`` minor units) or remove (None) a daily loss limit.

    Lower or first: at once. Higher or removed: only 24 h after the last change, so a limit set
    in a calm moment cannot be undone in a heated one.
    """
    now = now or utcnow()
    if daily is not None and daily < 0:
        raise GameRefused("bad_period")
    old = conn.execute(_LIMIT, {"u": user_id, "s": asset}).first()
    loosens = old is not None and (daily is None or daily > old.daily)
    if loosens and old is not None and now < old.changed_at + RAISE_COOLDOWN:
        raise GameRefused("limit_raise_locked", after=old.changed_at + RAISE_COOLDOWN)
    if daily is None:
        conn.execute(
            loss_limits.delete().where(loss_limits.c.user_id == user_id, loss_limits.c.asset == asset)
        )
    else:
        ins = insert_for(conn)(loss_limits).values(user_id=user_id, asset=asset, daily=daily, changed_at=now)
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[loss_limits.c.user_id, loss_limits.c.asset],
                set_={"daily": daily, "changed_at": now},
            )
        )
    return get_limits(conn, user_id, now)


def self_exclude(conn: Connection, user_id: int, days: int, now: datetime | None = None) -> Limits:
    """No bets until now + ``days`` (1, 7 or 30). Only ever extends: an earlier end is refused."""
    if days not in EXCLUSION_DAYS:
        raise GameRefused("bad_period")
    now = now or utcnow()
    until = now + timedelta(days=days)
    current = conn.execute(_EXCLUDED, {"u": user_id}).scalar()
    if current is not None and current > until:
        raise GameRefused("exclusion_locked", until=current)
    ins = insert_for(conn)(play_limits).values(user_id=user_id, excluded_until=until)
    conn.execute(
        ins.on_conflict_do_update(index_elements=[play_limits.c.user_id], set_={"excluded_until": until})
    )
    return get_limits(conn, user_id, now)
