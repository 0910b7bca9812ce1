"""The faucet: a small reward per asset, once per interval, for solving a captcha.

The captcha is core.identity.captcha's (purpose ``faucet``, subject the coin): a picture whose
answer stays on the server, or a provider's verdict (Turnstile, hCaptcha) checked by
the server. One open puzzle per user retires older ones, each takes one answer, and a
wrong answer makes the next puzzle wait ``faucet.retry_wait``.

A correct answer pays ``faucet.reward.<ASSET>`` from the faucet pool to the user with
the idempotency key ``faucet:{user}:{asset}:{window}`` (window = unix time // interval),
so two taps, two devices or a retried update pay once. The referrer's commission
(core.earn.referrals) is paid in the same transaction. When the pool cannot pay, nothing
moves, the user is told the faucet is dry, and admins get one notice per dry spell
(a spell ends when the pool is funded again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, func, select

from core.earn import debts, referrals
from core.errors import IdempotencyConflict, InsufficientFunds
from core.identity import captcha, standing
from core.loyalty import Extras, Rules, reward_paid, rules_from
from core.money import ASSETS, FAUCET_POOL, Code, get_asset, ledger, user_account
from core.money import entries_table as entries
from core.platform import Params, define, notices, utcnow

_DEFAULT_REWARDS = {"BTC": "0.00000100", "LTC": "0.00001000", "DOGE": "0.01", "TRX": "0.01", "DUST": "1"}
for _code in ASSETS:
    define(f"faucet.reward.{_code}", _DEFAULT_REWARDS.get(_code, "0"), "amount", asset=_code)
    define(f"faucet.interval.{_code}", "1h", "duration", minimum=60, maximum=30 * 86400)
define("faucet.retry_wait", "5s", "duration", minimum=0, maximum=3600)
define("faucet.challenge_ttl", "10m", "duration", minimum=30, maximum=86400)

CODE = Code.FAUCET
PURPOSE = "faucet"  # the captcha purpose: one open faucet puzzle per user, whatever the coin
OPTIONS = captcha.OPTIONS


class FaucetError(captcha.CaptchaError):
    """reasons: faucet_off, faucet_cooldown; and the captcha's (captcha_wait, challenge_unknown,
    challenge_used, challenge_expired, challenge_replaced, token_used), raised as FaucetError."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The faucet settings in force for one asset (read from core.platform.params by the caller)."""

    reward: int
    interval: int
    retry_wait: int = 5
    challenge_ttl: int = 600
    commission_bp: int = 1000
    notice_every: int = 3600
    commission_cap: int = 0  # referral.daily_cap.<ASSET>: per referrer and UTC day; 0: no cap
    loyalty: Rules | None = None  # reward points, boosts, levels (core.loyalty); None: none


def settings_for(params: Params, asset: str) -> Settings:
    """The faucet's settings for ``asset``, built once per settings load (a claim reads them twice,
    and parsing the loyalty rules costs more than the claim's own statements on SQLite)."""
    return params.derived(("faucet", asset), lambda: _settings(params, asset))


def _settings(params: Params, asset: str) -> Settings:
    return Settings(
        reward=params.get(f"faucet.reward.{asset}"),
        interval=params.get(f"faucet.interval.{asset}"),
        retry_wait=params.get("faucet.retry_wait"),
        challenge_ttl=params.get("faucet.challenge_ttl"),
        commission_bp=params.get("referral.commission"),
        notice_every=params.get("referral.notice_every"),
        commission_cap=params.get(f"referral.daily_cap.{asset}"),
        loyalty=rules_from(params),
    )


@dataclass(frozen=True, slots=True)
class Challenge:
    id: int
    asset: str
    options: tuple[str, ...]  # what the picture shows in cells 1..6 (server side only)
    target: str | None  # the shape in the picture's frame; None for a provider's check
    kind: str = "buttons"


class Status(StrEnum):
    """How a claim ended (also stored in the claim's notice params)."""

    PAID = "paid"
    WRONG = "wrong"  # a wrong answer: nothing paid, a new puzzle after ``retry_wait``
    DRY = "dry"  # the faucet pool cannot pay the reward: nothing taken
    ALREADY = "already"  # this window's claim was paid before


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    asset: str
    amount: int = 0
    commission: int = 0
    wait_seconds: int = 0  # until the next claim (paid/already) or the next challenge (wrong)
    points: int = 0  # reward points earned with the claim (core.loyalty)
    bonus: int = 0  # extra coin from the running boost and the level, paid by marketing


def window_of(now: datetime, interval: int) -> int:
    return int(now.timestamp()) // interval


def claim_key(user_id: int, asset: str, window: int) -> str:
    return f"faucet:{user_id}:{asset}:{window}"


def seconds_left(now: datetime, interval: int) -> int:
    return (window_of(now, interval) + 1) * interval - int(now.timestamp())


def _check_open(conn: Connection, user_id: int, asset: str, s: Settings, now: datetime) -> None:
    if s.reward <= 0:
        raise FaucetError("faucet_off", asset=asset)
    if ledger.get_transfer(conn, key=claim_key(user_id, asset, window_of(now, s.interval))) is not None:
        raise FaucetError("faucet_cooldown", asset=asset, seconds=seconds_left(now, s.interval))


def new_challenge(
    conn: Connection,
    user_id: int,
    asset: str,
    s: Settings,
    *,
    kind: str = "buttons",
    admin_ids: Iterable[int] = (),
    now: datetime | None = None,
) -> Challenge | Outcome:
    """A fresh captcha (core.identity.captcha, ``kind``) for claiming ``asset``, or Outcome('dry')
    when the pool cannot pay.

    Refuses (FaucetError) an asset without a faucet, a claim before the interval is
    over (with the seconds left) and a new challenge too soon after a wrong answer.
    """
    standing.require(conn, user_id, standing.EARN)
    now = now or utcnow()
    asset = get_asset(asset).code
    _check_open(conn, user_id, asset, s, now)
    left = captcha.wait_left(conn, user_id, PURPOSE, s.retry_wait, now)
    if left > 0:
        raise FaucetError("captcha_wait", seconds=left)
    if ledger.balance(conn, FAUCET_POOL, asset).available < s.reward:
        _dry(conn, asset, admin_ids, now)
        return Outcome(Status.DRY, asset)
    ch = captcha.new_challenge(conn, user_id, PURPOSE, subject=asset, kind=kind, now=now)
    return Challenge(ch.id, asset, ch.options, ch.target, kind)


def answer_challenge(
    conn: Connection,
    user_id: int,
    challenge_id: int,
    option: int,
    s_for: Callable[[str], Settings],
    *,
    kind: str = "buttons",
    token: str | None = None,
    admin_ids: Iterable[int] = (),
    now: datetime | None = None,
) -> Outcome:
    """Check one answer; pay the reward (and the referrer's commission) when it is right.

    ``s_for(asset) -> Settings``. ``kind``/``token``: the channel of the answer, see
    core.identity.captcha.answer (a provider's verdict is ``captcha.PASSED`` or ``FAILED``). A
    challenge of another user, an unknown one, one answered before or one older than its
    TTL is refused and changes nothing. A wrong answer uses the challenge up.
    Claim key: ``faucet:{user}:{asset}:{window}``.
    """
    standing.require(conn, user_id, standing.EARN)
    now = now or utcnow()
    try:
        got = captcha.answer(
            conn,
            challenge_id,
            user_id,
            option,
            purpose=PURPOSE,
            ttl=lambda asset: s_for(asset).challenge_ttl,
            kind=kind,
            token=token,
            now=now,
        )
    except captcha.CaptchaError as err:
        raise FaucetError(err.reason, **err.params) from None
    asset = got.subject
    s: Settings = s_for(asset)
    if not got.right:
        return Outcome(Status.WRONG, asset, wait_seconds=s.retry_wait)
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
        _dry(conn, asset, admin_ids, now)
        return Outcome(Status.DRY, asset)
    except IdempotencyConflict:  # claimed earlier in this window, at another reward
        first = ledger.get_transfer(conn, key=key)
        assert first is not None  # the key is taken: that is the conflict
        return Outcome(Status.ALREADY, asset, first.amount, wait_seconds=seconds_left(now, s.interval))
    if t.replayed:  # claimed earlier in this window (another device, a retried update)
        return Outcome(Status.ALREADY, asset, t.amount, wait_seconds=seconds_left(now, s.interval))
    debts.repay_debts(conn, user_id, asset, t.amount, source_key=key, now=now)  # what a reversal left owed
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
    extras = Extras()
    if s.loyalty is not None:
        extras = reward_paid(conn, s.loyalty, user_id, "faucet", asset, t.amount, key, now)
    return Outcome(
        Status.PAID, asset, t.amount, commission, seconds_left(now, s.interval), extras.points, extras.bonus
    )


def answer_by_provider(
    conn: Connection,
    user_id: int,
    challenge_id: int,
    passed: bool,
    s_for: Callable[[str], Settings],
    *,
    kind: str,
    token: str,
    admin_ids: Iterable[int] = (),
    now: datetime | None = None,
) -> Outcome:
    """``answer_challenge`` for a provider's verdict (Turnstile, hCaptcha) on a Mini App page.

    The page is outside the chat, so the outcome is also queued as a notice to the user
    (template ``faucet_checked``, key ``faucet_checked:{challenge}``) in the same transaction.
    """
    now = now or utcnow()
    option = captcha.PASSED if passed else captcha.FAILED
    out = answer_challenge(
        conn, user_id, challenge_id, option, s_for, kind=kind, token=token, admin_ids=admin_ids, now=now
    )
    notices.enqueue(
        conn,
        user_id,
        "faucet_checked",
        {"status": out.status, "asset": out.asset, "amount": out.amount, "wait": out.wait_seconds},
        key=f"faucet_checked:{challenge_id}",
        now=now,
    )
    return out


def _dry(conn: Connection, asset: str, admin_ids: Iterable[int], now: datetime) -> None:
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


def dry_assets(conn: Connection, rewards: dict[str, int]) -> set[str]:
    """The coins whose faucet pool cannot pay one reward now (``rewards``: asset -> reward,
    minor units): the picker marks them instead of leading to "dry"."""
    pools = ledger.balances(conn, FAUCET_POOL)
    return {
        code for code, reward in rewards.items() if (pools[code].available if code in pools else 0) < reward
    }
