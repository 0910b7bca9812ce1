"""The faucet: a small reward per asset, once per interval, for solving a captcha.

A challenge (six emoji, "tap the 🍋") is generated and stored here with its answer;
callback data only carries the challenge id and the chosen option, so the answer is
never trusted from the client. Each challenge takes one answer.

A correct answer pays ``faucet.reward.<ASSET>`` from the faucet pool to the user with
the idempotency key ``faucet:{user}:{asset}:{window}`` (window = unix time // interval),
so two taps, two devices or a retried update pay once. The referrer's commission
(core.referrals) is paid in the same transaction. When the pool cannot pay, nothing
moves, the user is told the faucet is dry, and admins get one notice per dry spell
(a spell ends when the pool is funded again).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    case,
    func,
    select,
    update,
)

from core import ledger, notices, referrals
from core.accounts import FAUCET_POOL, user_account
from core.assets import ASSETS, get_asset
from core.errors import DomainError, IdempotencyConflict, InsufficientFunds
from core.params import define
from core.schema import UTCDateTime, entries, id_column, metadata, utcnow

challenges = Table(
    "faucet_challenges",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("options", String(200), nullable=False, comment="JSON list of the emoji shown"),
    Column("answer", Integer, nullable=False, comment="index of the right option; never sent to the client"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("outcome", String(8), nullable=True, comment="paid | wrong | dry | already | replaced"),
)
Index("ix_faucet_challenges_user_id", challenges.c.user_id, challenges.c.id)
# The user's open challenges, found at every new one without walking their whole history.
Index(
    "ix_faucet_challenges_open",
    challenges.c.user_id,
    sqlite_where=challenges.c.answered_at.is_(None),
    postgresql_where=challenges.c.answered_at.is_(None),
)

_DEFAULT_REWARDS = {"BTC": "0.00000100", "LTC": "0.00001000", "DOGE": "0.01", "TRX": "0.01", "DUST": "1"}
for _code in ASSETS:
    define(f"faucet.reward.{_code}", _DEFAULT_REWARDS.get(_code, "0"), "amount", asset=_code)
    define(f"faucet.interval.{_code}", "1h", "duration", minimum=60, maximum=30 * 86400)
define("faucet.retry_wait", "5s", "duration", minimum=0, maximum=3600)
define("faucet.challenge_ttl", "10m", "duration", minimum=30, maximum=86400)

CODE = "faucet"
OPTIONS = 6
EMOJI = ("🍋", "🍎", "🍇", "🍌", "🍒", "🥝", "🍉", "🍍", "🥥", "🍑", "🍓", "🥕")
_rng = secrets.SystemRandom()


class FaucetError(DomainError):
    """reasons: faucet_off, faucet_cooldown, captcha_wait, challenge_unknown, challenge_used,
    challenge_expired, challenge_replaced."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The faucet settings in force for one asset (read from core.params by the caller)."""

    reward: int
    interval: int
    retry_wait: int = 5
    challenge_ttl: int = 600
    commission_bp: int = 1000
    notice_every: int = 3600
    commission_cap: int = 0  # referral.daily_cap.<ASSET>: per referrer and UTC day; 0: no cap


def settings_for(params, asset: str) -> Settings:
    return Settings(
        reward=params.get(f"faucet.reward.{asset}"),
        interval=params.get(f"faucet.interval.{asset}"),
        retry_wait=params.get("faucet.retry_wait"),
        challenge_ttl=params.get("faucet.challenge_ttl"),
        commission_bp=params.get("referral.commission"),
        notice_every=params.get("referral.notice_every"),
        commission_cap=params.get(f"referral.daily_cap.{asset}"),
    )


@dataclass(frozen=True, slots=True)
class Challenge:
    id: int
    asset: str
    options: list[str]
    target: str  # the emoji to tap: shown to the user, it is the question, not the answer's index


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # paid | wrong | dry | already
    asset: str
    amount: int = 0
    commission: int = 0
    wait_seconds: int = 0  # until the next claim (paid/already) or the next challenge (wrong)


def window_of(now: datetime, interval: int) -> int:
    return int(now.timestamp()) // interval


def claim_key(user_id: int, asset: str, window: int) -> str:
    return f"faucet:{user_id}:{asset}:{window}"


def seconds_left(now: datetime, interval: int) -> int:
    return (window_of(now, interval) + 1) * interval - int(now.timestamp())


_LAST = (
    select(challenges.c.answered_at, challenges.c.outcome)
    .where(challenges.c.user_id == bindparam("u"))
    .order_by(challenges.c.id.desc())
    .limit(1)
)
_BY_ID = select(challenges).where(challenges.c.id == bindparam("i"))
# One open challenge per user: a new one retires the others, so nobody can stack up
# puzzles and guess through them without the wait after a wrong answer.
_REPLACE = (
    update(challenges)
    .where(challenges.c.user_id == bindparam("u"), challenges.c.answered_at.is_(None))
    .values(answered_at=bindparam("now"), outcome="replaced")
)
# Takes the challenge (one answer each) and records the likely outcome in one statement;
# the rare dry or already-claimed outcome is written over it before the commit.
_TAKE = (
    update(challenges)
    .where(
        challenges.c.id == bindparam("i"),
        challenges.c.user_id == bindparam("u"),
        challenges.c.answered_at.is_(None),
    )
    .values(
        answered_at=bindparam("now"),
        outcome=case((challenges.c.answer == bindparam("o"), "paid"), else_="wrong"),
    )
    .returning(challenges.c.asset, challenges.c.answer, challenges.c.created_at)
)
_OUTCOME = update(challenges).where(challenges.c.id == bindparam("i")).values(outcome=bindparam("outcome"))


def _check_open(conn: Connection, user_id: int, asset: str, s: Settings, now: datetime) -> None:
    if s.reward <= 0:
        raise FaucetError("faucet_off", asset=asset)
    if ledger.get_transfer(conn, key=claim_key(user_id, asset, window_of(now, s.interval))) is not None:
        raise FaucetError("faucet_cooldown", asset=asset, seconds=seconds_left(now, s.interval))


def new_challenge(
    conn: Connection, user_id: int, asset: str, s: Settings, *, admin_ids=(), now: datetime | None = None
) -> Challenge | Outcome:
    """A fresh captcha for claiming ``asset``, or Outcome('dry') when the pool cannot pay.

    Refuses (FaucetError) an asset without a faucet, a claim before the interval is
    over (with the seconds left) and a new challenge too soon after a wrong answer.
    """
    now = now or utcnow()
    asset = get_asset(asset).code
    _check_open(conn, user_id, asset, s, now)
    last = conn.execute(_LAST, {"u": user_id}).first()
    if last is not None and last.outcome == "wrong":
        waited = int((now - last.answered_at).total_seconds())
        if waited < s.retry_wait:
            raise FaucetError("captcha_wait", seconds=s.retry_wait - waited)
    if ledger.balance(conn, FAUCET_POOL, asset).available < s.reward:
        _dry(conn, asset, admin_ids, now)
        return Outcome("dry", asset)
    conn.execute(_REPLACE, {"u": user_id, "now": now})
    options = _rng.sample(EMOJI, OPTIONS)
    answer = _rng.randrange(OPTIONS)
    new_id = conn.execute(
        challenges.insert().returning(challenges.c.id),
        dict(
            user_id=user_id,
            asset=asset,
            options=json.dumps(options, ensure_ascii=False),
            answer=answer,
            created_at=now,
        ),
    ).scalar_one()
    return Challenge(new_id, asset, options, options[answer])


def answer_challenge(
    conn: Connection,
    user_id: int,
    challenge_id: int,
    option: int,
    s_for,
    *,
    admin_ids=(),
    now: datetime | None = None,
) -> Outcome:
    """Check one answer; pay the reward (and the referrer's commission) when it is right.

    ``s_for(asset) -> Settings``. A challenge of another user, an unknown one, one answered
    before or one older than its TTL is refused and changes nothing. A wrong answer uses
    the challenge up. Claim key: ``faucet:{user}:{asset}:{window}``.
    """
    now = now or utcnow()
    ch = conn.execute(_TAKE, {"i": challenge_id, "u": user_id, "o": option, "now": now}).first()
    if ch is None:
        mine = conn.execute(_BY_ID, {"i": challenge_id}).first()
        if mine is None or mine.user_id != user_id:
            raise FaucetError("challenge_unknown")
        if mine.outcome == "replaced":
            raise FaucetError("challenge_replaced")
        raise FaucetError("challenge_used")  # answered before, or a concurrent answer won
    s: Settings = s_for(ch.asset)
    if (now - ch.created_at).total_seconds() > s.challenge_ttl:
        raise FaucetError("challenge_expired")  # rolls back the take: the puzzle stays unanswered
    asset = ch.asset
    if option != ch.answer:
        return Outcome("wrong", asset, wait_seconds=s.retry_wait)
    if s.reward <= 0:
        raise FaucetError("faucet_off", asset=asset)
    referrer = referrals.activate(conn, user_id, now)
    key = claim_key(user_id, asset, window_of(now, s.interval))
    # The claim key makes a second claim in the window a replay; an empty pool refuses the
    # debit (and the ledger leaves no trace of it), so nothing is ever half-paid.
    try:
        t = ledger.transfer(
            conn,
            debit=FAUCET_POOL,
            credit=user_account(user_id),
            asset=asset,
            amount=s.reward,
            code=CODE,
            key=key,
            meta={"challenge": challenge_id},
            now=now,
        )
    except InsufficientFunds:
        _mark(conn, challenge_id, "dry")
        _dry(conn, asset, admin_ids, now)
        return Outcome("dry", asset)
    except IdempotencyConflict:  # claimed earlier in this window, at another reward
        t = ledger.get_transfer(conn, key=key)
        _mark(conn, challenge_id, "already")
        return Outcome("already", asset, t.amount, wait_seconds=seconds_left(now, s.interval))
    if t.replayed:  # claimed earlier in this window (another device, a retried update)
        _mark(conn, challenge_id, "already")
        return Outcome("already", asset, t.amount, wait_seconds=seconds_left(now, s.interval))
    commission = 0
    if referrer is not None:
        commission = referrals.pay_commission_to(
            conn,
            referrer,
            source=referrals.Source.FAUCET,
            user_id=user_id,
            asset=asset,
            earned=t.amount,
            platform_cut=t.amount,  # the platform pays the whole claim
            source_key=key,
            share_bp=s.commission_bp,
            daily_cap=s.commission_cap,
            notice_every=s.notice_every,
            now=now,
        )
    return Outcome("paid", asset, t.amount, commission, seconds_left(now, s.interval))


def _mark(conn: Connection, challenge_id: int, outcome: str) -> None:
    conn.execute(_OUTCOME, {"i": challenge_id, "outcome": outcome})


def _dry(conn: Connection, asset: str, admin_ids, now: datetime) -> None:
    """Tell admins once per dry spell: the spell is named by the pool's last funding entry."""
    spell = conn.execute(
        select(func.max(entries.c.id)).where(
            entries.c.owner == FAUCET_POOL, entries.c.asset == asset, entries.c.amount > 0
        )
    ).scalar()
    for admin_id in admin_ids:
        notices.enqueue(
            conn,
            admin_id,
            "faucet_dry",
            {"asset": asset},
            key=f"faucet_dry:{asset}:{spell or 0}:{admin_id}",
            now=now,
        )
