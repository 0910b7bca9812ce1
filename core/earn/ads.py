"""Paid-to-click ads and join tasks: the viewer's side (the advertiser's is core.earn.ad_campaigns).

A campaign's budget is the ledger balance of its own escrow sub-account ``ad_escrow:c<id>``,
funded at approval. One paid view costs the campaign ``price + fee`` minor units: ``price``
goes to the viewer, ``fee`` (``ads.fee`` of the price, rounded up, bought with the campaign)
to ``fees``; the viewer's referrer gets the faucet's commission from ``marketing``, never
more than that fee (core.earn.referrals).

- Visit ads: the feed offers a one-time link (core.earn.ad_tokens); its first open records
  the start on the server's clock (``start_visit``). ``duration`` seconds later the viewer asks
  to claim (``begin_claim``: a captcha of core.identity.captcha, purpose ``ads``) and a right
  answer pays (``answer_claim``).
- Join tasks: a verified member's right answer reserves the reward and the fee (pending);
  after ``ads.join_hold`` the join job (jobs/ads.py) posts both if the viewer is still a
  member, or voids both back to the campaign (``settle_join``).

One paid (or held) view per (viewer, campaign, window): window = unix time // the
campaign's frequency for a visit, 0 for a join (a channel is joined once). The ledger keys
are ``ad:{campaign}:{user}:{window}`` (the reward) and ``...:fee``, so concurrent claims,
two devices or a retried update pay once. A claim the campaign can no longer pay (paused,
cancelled, budget spent) moves nothing and marks the visit ``void`` with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Row, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.earn import debts, referrals
from core.earn.ad_tokens import Token, TokenError
from core.earn.tables import ad_campaigns, ad_reports, ad_views
from core.errors import DomainError, InsufficientFunds
from core.identity import captcha, standing
from core.identity import users_table as users
from core.money import AD_ESCROW, ASSETS, FEES, ledger, user_account
from core.platform import define, notices, utcnow

_MIN_PRICES = {"BTC": "0.00000010", "LTC": "0.00000100", "DOGE": "0.001", "USDT": "0.0001", "TRX": "0.001"}
for _code in ASSETS:
    define(f"ads.min_price.{_code}", _MIN_PRICES.get(_code, "0.00000001"), "amount", asset=_code)
define("ads.fee", "20%", "share")
define("ads.token_ttl", "10m", "duration", minimum=30, maximum=86400)
define("ads.join_hold", "3d", "duration", minimum=1, maximum=90 * 86400)
define("ads.join_check_every", "1m", "duration", minimum=1, maximum=86400)
define("ads.daily_cap", "50", "int", minimum=1, maximum=100_000)
define("ads.min_age", "0s", "duration", minimum=0, maximum=365 * 86400)
define("ads.frequency", "24h", "duration", minimum=60, maximum=365 * 86400)
define("ads.challenge_ttl", "10m", "duration", minimum=30, maximum=86400)
define("ads.retry_wait", "5s", "duration", minimum=0, maximum=3600)

VIEW_CODE, FEE_CODE = "ad_view", "ad_fee"  # ledger codes: the viewer's reward, the platform's cut
PURPOSE = "ads"  # the captcha purpose
OPTIONS = captcha.OPTIONS
VISIT, JOIN = "visit", "join"
DRAFT, REVIEW, ACTIVE, PAUSED, REJECTED, CANCELLED = (
    "draft",
    "review",
    "active",
    "paused",
    "rejected",
    "cancelled",
)
STARTED, PAID, HELD, VOID, INVALID = "started", "paid", "held", "void", "invalid"
MIN_DURATION, MAX_DURATION = 5, 60


class AdError(DomainError):
    """reasons: ad_unknown, ad_paused, ad_over, ad_budget_out, ad_own, ad_not_visited, ad_too_early
    (seconds), ad_already (seconds), ad_daily_cap (seconds), ad_too_new (seconds), ad_not_joined;
    the captcha's (captcha_wait, challenge_*) raised as AdError; and core.earn.ad_campaigns'."""


class ParamReader(Protocol):
    def get(self, key: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Settings:
    """The ads settings in force (read from core.platform.params by the caller)."""

    fee_bp: int = 2000
    token_ttl: int = 600
    join_hold: int = 3 * 86400
    daily_cap: int = 50
    min_age: int = 0
    frequency: int = 86400
    challenge_ttl: int = 600
    retry_wait: int = 5
    commission_bp: int = 1000
    notice_every: int = 3600
    commission_caps: Mapping[str, int] | None = None  # referral.daily_cap.<ASSET>
    min_prices: Mapping[str, int] | None = None  # ads.min_price.<ASSET>


def settings_for(params: ParamReader) -> Settings:
    return Settings(
        fee_bp=params.get("ads.fee"),
        token_ttl=params.get("ads.token_ttl"),
        join_hold=params.get("ads.join_hold"),
        daily_cap=params.get("ads.daily_cap"),
        min_age=params.get("ads.min_age"),
        frequency=params.get("ads.frequency"),
        challenge_ttl=params.get("ads.challenge_ttl"),
        retry_wait=params.get("ads.retry_wait"),
        commission_bp=params.get("referral.commission"),
        notice_every=params.get("referral.notice_every"),
        commission_caps={a: params.get(f"referral.daily_cap.{a}") for a in ASSETS},
        min_prices={a: params.get(f"ads.min_price.{a}") for a in ASSETS},
    )


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    advertiser_id: int
    kind: str
    title: str
    description: str
    url: str | None
    channel: str | None
    duration: int
    asset: str
    price: int
    fee: int
    views: int
    lang: str | None
    frequency: int
    status: str
    reserve_id: int | None
    revision: int
    reason: str | None
    created_at: datetime

    @property
    def unit(self) -> int:
        """What one paid view costs the campaign: the reward and the platform's cut."""
        return self.price + self.fee

    @property
    def escrow(self) -> str:
        return escrow_of(self.id)

    @classmethod
    def from_row(cls, row: Row[Any]) -> Campaign:
        m = row._mapping
        return cls(**{f.name: m[f.name] for f in fields(cls)})


def escrow_of(campaign_id: int) -> str:
    return f"{AD_ESCROW}:c{campaign_id}"


def window_of(c: Campaign, now: datetime) -> int:
    return 0 if c.kind == JOIN else int(now.timestamp()) // c.frequency


def view_key(campaign_id: int, user_id: int, window: int) -> str:
    return f"ad:{campaign_id}:{user_id}:{window}"


_CAMPAIGN = select(ad_campaigns).where(ad_campaigns.c.id == bindparam("c"))


def get_campaign(conn: Connection, campaign_id: int) -> Campaign:
    row = conn.execute(_CAMPAIGN, {"c": campaign_id}).first()
    if row is None:
        raise AdError("ad_unknown", id=campaign_id)
    return Campaign.from_row(row)


def budget_left(conn: Connection, c: Campaign) -> int:
    """Minor units the campaign can still spend (its escrow, less join rewards still held)."""
    return ledger.balance(conn, c.escrow, c.asset).available


# --- the feed ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ad:
    campaign: Campaign
    issued: int  # unix seconds: goes into the tracking token


@dataclass(frozen=True, slots=True)
class NoAds:
    reason: str  # none | daily_cap | too_new
    wait_seconds: int  # when to look again; 0: nothing to say


_TAKEN = (
    select(ad_views.c.campaign_id, func.max(ad_views.c.period))
    .where(ad_views.c.user_id == bindparam("u"), ad_views.c.status.in_((PAID, HELD)))
    .group_by(ad_views.c.campaign_id)
)
_PAID_SINCE = select(func.count()).where(
    ad_views.c.user_id == bindparam("u"),
    ad_views.c.status.in_((PAID, HELD)),
    ad_views.c.paid_at >= bindparam("since"),
)
_ACTIVE = (
    select(ad_campaigns)
    .where(ad_campaigns.c.status == ACTIVE, ad_campaigns.c.advertiser_id != bindparam("u"))
    .order_by(ad_campaigns.c.id)
)
_USER_SINCE = select(users.c.created_at).where(users.c.id == bindparam("u"))


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _limits(
    conn: Connection, user_id: int, s: Settings, now: datetime, paid_today: int | None = None
) -> NoAds | None:
    """The viewer's own limits: account age (``ads.min_age``) and paid ads per UTC day
    (``paid_today`` when the caller read it already)."""
    if s.min_age > 0:
        created = conn.execute(_USER_SINCE, {"u": user_id}).scalar()
        age = (now - created).total_seconds() if created is not None else 0
        if age < s.min_age:
            return NoAds("too_new", math.ceil(s.min_age - age))
    day = _day_start(now)
    if paid_today is None:
        paid_today = conn.execute(_PAID_SINCE, {"u": user_id, "since": day}).scalar_one()
    if paid_today >= s.daily_cap:
        return NoAds("daily_cap", math.ceil((day + timedelta(days=1) - now).total_seconds()))
    return None


def next_ad(
    conn: Connection, user_id: int, locale: str, s: Settings, *, after: int = 0, now: datetime | None = None
) -> Ad | NoAds:
    """The next ad for ``user_id`` after campaign ``after`` (wrapping round), or why there is none.

    Offered: active, not the viewer's own, budget for one more view, not paid to this viewer in
    the current window, language targeting empty or the viewer's. Read-only.
    """
    now = now or utcnow()
    limited = _limits(conn, user_id, s, now)
    if limited is not None:
        return limited
    taken = {cid: period for cid, period in conn.execute(_TAKEN, {"u": user_id})}
    campaigns = [Campaign.from_row(r) for r in conn.execute(_ACTIVE, {"u": user_id})]
    campaigns = [c for c in campaigns if c.lang is None or c.lang == locale]
    funds = ledger.balances_of(conn, [c.escrow for c in campaigns])
    offered: list[Campaign] = []
    waits: list[int] = []
    for c in campaigns:
        bal = funds.get((c.escrow, c.asset))
        if bal is None or bal.available < c.unit:
            continue
        window = window_of(c, now)
        if taken.get(c.id) is not None and taken[c.id] >= window:
            if c.kind == VISIT:
                waits.append((window + 1) * c.frequency - int(now.timestamp()))
            continue
        offered.append(c)
    if not offered:
        return NoAds("none", min(waits) if waits else 0)
    pick = next((c for c in offered if c.id > after), offered[0])
    return Ad(pick, int(now.timestamp()))


def report(
    conn: Connection,
    user_id: int,
    campaign_id: int,
    admin_ids: tuple[int, ...] = (),
    now: datetime | None = None,
) -> bool:
    """The viewer reports an ad; admins hear of a campaign's first report by each viewer.
    Returns False when this viewer had reported it before."""
    now = now or utcnow()
    c = get_campaign(conn, campaign_id)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    done = conn.execute(
        dialect.insert(ad_reports)
        .values(campaign_id=c.id, user_id=user_id, created_at=now)
        .on_conflict_do_nothing()
    ).rowcount
    if done != 1:
        return False
    for admin_id in admin_ids:
        notices.enqueue(
            conn,
            admin_id,
            "ad_reported",
            {"id": c.id, "title": c.title, "user": user_id},
            key=f"ad_report:{c.id}:{user_id}:{admin_id}",
            now=now,
        )
    return True


# --- visits ---------------------------------------------------------------------------


def _insert_view(dialect: Any) -> Any:
    return (
        dialect.insert(ad_views)
        .on_conflict_do_nothing(index_elements=[ad_views.c.token_hash])
        .returning(ad_views.c.id)
    )


_INSERT_VIEW = {"sqlite": _insert_view(sqlite), "postgresql": _insert_view(postgresql)}
_VISIT_TARGET = select(ad_campaigns.c.url, ad_campaigns.c.status, ad_campaigns.c.kind).where(
    ad_campaigns.c.id == bindparam("c")
)


def start_visit(conn: Connection, token: Token, now: datetime | None = None) -> str:
    """The first open of a checked tracking token: record the start (server clock) and return
    the advertiser's URL. Refuses (TokenError, nothing recorded) a token opened before
    (``token_used``) and an ad that no longer runs (``ad_unavailable``)."""
    now = now or utcnow()
    c = conn.execute(_VISIT_TARGET, {"c": token.campaign_id}).first()
    if c is None or c.status != ACTIVE or c.kind != VISIT or not c.url:
        raise TokenError("ad_unavailable", user_id=token.user_id)
    new_id = conn.execute(
        _INSERT_VIEW[conn.dialect.name],
        dict(
            campaign_id=token.campaign_id,
            user_id=token.user_id,
            token_hash=token.digest,
            issued_at=datetime.fromtimestamp(token.issued, UTC),
            started_at=now,
            status=STARTED,
        ),
    ).scalar()
    if new_id is None:
        raise TokenError("token_used", user_id=token.user_id)
    return str(c.url)


# --- claims ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    id: int
    campaign: Campaign
    options: tuple[str, ...]
    target: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # paid | held | wrong | already | void
    campaign_id: int
    asset: str
    amount: int = 0
    commission: int = 0
    wait_seconds: int = 0  # wrong: until a new puzzle; held: until the join reward is posted
    reason: str = ""  # void: paused | cancelled | budget


_LAST_VISIT = (
    select(ad_views)
    .where(
        ad_views.c.campaign_id == bindparam("c"),
        ad_views.c.user_id == bindparam("u"),
        ad_views.c.status == STARTED,
    )
    .order_by(ad_views.c.id.desc())
    .limit(1)
)
_VIEW = select(ad_views).where(ad_views.c.id == bindparam("v"))
_TAKEN_IN = select(ad_views.c.id).where(
    ad_views.c.campaign_id == bindparam("c"),
    ad_views.c.user_id == bindparam("u"),
    ad_views.c.period == bindparam("w"),
    ad_views.c.status.in_((PAID, HELD)),
)


def _not_running(c: Campaign) -> str | None:
    if c.status == ACTIVE:
        return None
    return "cancelled" if c.status in (CANCELLED, REJECTED) else "paused"


def _check_claim(conn: Connection, c: Campaign, user_id: int, s: Settings, now: datetime) -> None:
    """Everything that refuses a claim before a puzzle is even shown."""
    if c.advertiser_id == user_id:
        raise AdError("ad_own")
    why = _not_running(c)
    if why == "paused" and c.status in (DRAFT, REVIEW):
        raise AdError("ad_unknown", id=c.id)
    if why is not None:
        raise AdError("ad_paused" if why == "paused" else "ad_over", title=c.title)
    window = window_of(c, now)
    if conn.execute(_TAKEN_IN, {"c": c.id, "u": user_id, "w": window}).first() is not None:
        raise AdError("ad_already", seconds=_next_window(c, now))
    if budget_left(conn, c) < c.unit:
        raise AdError("ad_budget_out", title=c.title)
    limited = _limits(conn, user_id, s, now)
    if limited is not None:
        raise AdError(
            "ad_daily_cap" if limited.reason == "daily_cap" else "ad_too_new", seconds=limited.wait_seconds
        )


def _next_window(c: Campaign, now: datetime) -> int:
    if c.kind == JOIN:
        return 0
    return (window_of(c, now) + 1) * c.frequency - int(now.timestamp())


def _left(c: Campaign, started_at: datetime, now: datetime) -> int:
    return max(0, math.ceil(c.duration - (now - started_at).total_seconds()))


def begin_claim(
    conn: Connection,
    user_id: int,
    campaign_id: int,
    s: Settings,
    *,
    member: bool | None = None,
    kind: str = "buttons",
    now: datetime | None = None,
) -> Challenge:
    """A captcha to claim ``campaign_id``, once everything that can refuse the claim was checked.

    Visit: the viewer's latest open visit must be ``duration`` seconds old (``ad_too_early``
    with the seconds left otherwise). Join: ``member`` is what getChatMember said just now.
    """
    standing.require(conn, user_id, standing.EARN)
    now = now or utcnow()
    c = get_campaign(conn, campaign_id)
    _check_claim(conn, c, user_id, s, now)
    view_id = 0
    if c.kind == VISIT:
        v = conn.execute(_LAST_VISIT, {"c": c.id, "u": user_id}).first()
        if v is None:
            raise AdError("ad_not_visited")
        left = _left(c, v.started_at, now)
        if left > 0:
            raise AdError("ad_too_early", seconds=left)
        view_id = v.id
    elif not member:
        raise AdError("ad_not_joined", channel=c.channel or "")
    try:
        ch = captcha.new_challenge(
            conn, user_id, PURPOSE, subject=f"{c.id}:{view_id}", kind=kind, retry_wait=s.retry_wait, now=now
        )
    except captcha.CaptchaError as err:
        raise AdError(err.reason, **err.params) from None
    return Challenge(ch.id, c, ch.options, ch.target)


def answer_claim(
    conn: Connection,
    user_id: int,
    challenge_id: int,
    option: int,
    s: Settings,
    *,
    member: bool | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Take the captcha answer; a right one pays the visit (or reserves the join reward).

    Refusals raise AdError and change nothing (the puzzle stays open). A wrong answer uses
    the puzzle up. A campaign that can no longer pay is an Outcome ``void`` (the visit is
    marked so, with the reason), never half a payment.
    """
    standing.require(conn, user_id, standing.EARN)
    now = now or utcnow()
    try:
        got = captcha.answer(
            conn, challenge_id, user_id, option, purpose=PURPOSE, ttl=s.challenge_ttl, now=now
        )
    except captcha.CaptchaError as err:
        raise AdError(err.reason, **err.params) from None
    cid, _, vid = got.subject.partition(":")
    if got.right and vid != "0":  # a visit: its campaign is read with it
        return _pay_visit(conn, int(vid), user_id, s, now)
    c = get_campaign(conn, int(cid))
    if not got.right:
        return Outcome("wrong", c.id, c.asset, wait_seconds=s.retry_wait)
    if not member:
        raise AdError("ad_not_joined", channel=c.channel or "")
    return _reserve_join(conn, c, user_id, s, now)


def _void_view(conn: Connection, view_id: int, reason: str) -> None:
    conn.execute(update(ad_views).where(ad_views.c.id == view_id).values(status=VOID, reason=reason))


def _cannot_pay(conn: Connection, c: Campaign) -> str | None:
    why = _not_running(c)
    if why is not None:
        return why
    return "budget" if budget_left(conn, c) < c.unit else None


_VISIT_ROW = (
    select(
        ad_campaigns,
        ad_views.c.user_id.label("v_user"),
        ad_views.c.status.label("v_status"),
        ad_views.c.started_at.label("v_started"),
        _PAID_SINCE.scalar_subquery().label("paid_today"),
    )
    .join(ad_views, ad_views.c.campaign_id == ad_campaigns.c.id)
    .where(ad_views.c.id == bindparam("v"))
)
_MARK_PAID = (
    update(ad_views)
    .where(ad_views.c.id == bindparam("v"))
    .values(
        status=PAID,
        period=bindparam("w"),
        paid_at=bindparam("now"),
        reward_id=bindparam("r"),
        fee_id=bindparam("f"),
    )
)


def _pay_visit(conn: Connection, view_id: int, user_id: int, s: Settings, now: datetime) -> Outcome:
    """The hot path of a claim: one read of the visit and its campaign, the two transfers (the
    reward's key makes a second payment in the window a replay), the view marked paid."""
    row = conn.execute(_VISIT_ROW, {"v": view_id, "u": user_id, "since": _day_start(now)}).first()
    if row is None or row.v_user != user_id:
        raise AdError("ad_not_visited")
    c = Campaign.from_row(row)
    window = window_of(c, now)
    if row.v_status != STARTED:
        return Outcome("already", c.id, c.asset, wait_seconds=_next_window(c, now))
    left = _left(c, row.v_started, now)
    if left > 0:
        raise AdError("ad_too_early", seconds=left)
    why = _not_running(c)
    if why is not None:
        _void_view(conn, view_id, why)
        return Outcome("void", c.id, c.asset, reason=why)
    limited = _limits(conn, user_id, s, now, row.paid_today)
    if limited is not None:
        raise AdError(
            "ad_daily_cap" if limited.reason == "daily_cap" else "ad_too_new", seconds=limited.wait_seconds
        )
    key = view_key(c.id, user_id, window)
    meta = {"campaign": c.id, "view": view_id}
    try:
        reward = ledger.transfer(
            conn,
            debit=c.escrow,
            credit=user_account(user_id),
            asset=c.asset,
            amount=c.price,
            code=VIEW_CODE,
            key=key,
            meta=meta,
            now=now,
        )
    except InsufficientFunds:  # the ledger kept nothing of it; the escrow holds whole views only,
        _void_view(conn, view_id, "budget")  # so a paid reward always has its fee behind it
        return Outcome("void", c.id, c.asset, reason="budget")
    if reward.replayed:  # another visit of this window was paid first
        return Outcome("already", c.id, c.asset, wait_seconds=_next_window(c, now))
    debts.repay_debts(conn, user_id, c.asset, c.price, source_key=key, now=now)  # what a reversal left owed
    fee_id = None
    if c.fee > 0:
        fee_id = ledger.transfer(
            conn,
            debit=c.escrow,
            credit=FEES,
            asset=c.asset,
            amount=c.fee,
            code=FEE_CODE,
            key=f"{key}:fee",
            meta=meta,
            now=now,
        ).id
    conn.execute(_MARK_PAID, {"v": view_id, "w": window, "now": now, "r": reward.id, "f": fee_id})
    commission = _commission(conn, c, user_id, key, s, now)
    return Outcome("paid", c.id, c.asset, c.price, commission, _next_window(c, now))


def _commission(conn: Connection, c: Campaign, user_id: int, key: str, s: Settings, now: datetime) -> int:
    referrer = referrals.activate(conn, user_id, now)
    if referrer is None:
        return 0
    return referrals.pay_commission_to(
        conn,
        referrer,
        source=referrals.Source.ADS,
        user_id=user_id,
        asset=c.asset,
        earned=c.price,
        platform_cut=c.fee,  # the platform keeps only the fee: the commission never passes it
        source_key=key,
        share_bp=s.commission_bp,
        daily_cap=(s.commission_caps or {}).get(c.asset, 0),
        notice_every=s.notice_every,
        now=now,
    )


# --- join tasks ------------------------------------------------------------------------


def _reserve_join(conn: Connection, c: Campaign, user_id: int, s: Settings, now: datetime) -> Outcome:
    window = window_of(c, now)
    if conn.execute(_TAKEN_IN, {"c": c.id, "u": user_id, "w": window}).first() is not None:
        return Outcome("already", c.id, c.asset)
    why = _cannot_pay(conn, c)
    if why is not None:
        raise AdError(
            "ad_budget_out" if why == "budget" else ("ad_paused" if why == "paused" else "ad_over"),
            title=c.title,
        )
    limited = _limits(conn, user_id, s, now)
    if limited is not None:
        raise AdError(
            "ad_daily_cap" if limited.reason == "daily_cap" else "ad_too_new", seconds=limited.wait_seconds
        )
    key = view_key(c.id, user_id, window)
    reward = ledger.reserve(
        conn,
        debit=c.escrow,
        credit=user_account(user_id),
        asset=c.asset,
        amount=c.price,
        code=VIEW_CODE,
        key=key,
        meta={"campaign": c.id, "join": True},
        now=now,
    )
    if reward.replayed:
        return Outcome("already", c.id, c.asset)
    fee_id = None
    if c.fee > 0:
        fee_id = ledger.reserve(
            conn,
            debit=c.escrow,
            credit=FEES,
            asset=c.asset,
            amount=c.fee,
            code=FEE_CODE,
            key=f"{key}:fee",
            meta={"campaign": c.id, "join": True},
            now=now,
        ).id
    conn.execute(
        ad_views.insert().values(
            campaign_id=c.id,
            user_id=user_id,
            started_at=now,
            status=HELD,
            period=window,
            paid_at=now,
            held_until=now + timedelta(seconds=s.join_hold),
            reward_id=reward.id,
            fee_id=fee_id,
        )
    )
    return Outcome("held", c.id, c.asset, c.price, wait_seconds=s.join_hold)


@dataclass(frozen=True, slots=True)
class HeldJoin:
    view_id: int
    user_id: int
    channel: str


_DUE = (
    select(ad_views.c.id, ad_views.c.user_id, ad_campaigns.c.channel)
    .join(ad_campaigns, ad_campaigns.c.id == ad_views.c.campaign_id)
    .where(ad_views.c.status == HELD, ad_views.c.held_until <= bindparam("now"))
    .order_by(ad_views.c.held_until)
    .limit(bindparam("n"))
)


def due_joins(conn: Connection, now: datetime | None = None, limit: int = 200) -> list[HeldJoin]:
    """Join rewards whose hold is over, oldest first: the job asks Telegram about each."""
    rows = conn.execute(_DUE, {"now": now or utcnow(), "n": limit})
    return [HeldJoin(r.id, r.user_id, r.channel or "") for r in rows]


def settle_join(
    conn: Connection, view_id: int, member: bool, s: Settings, now: datetime | None = None
) -> str:
    """Post a held join reward (and the fee, and the referrer's commission) if the viewer is
    still a ``member``; else void both back to the campaign and tell the viewer why. Returns
    the view's status; a view settled before is left as it is."""
    now = now or utcnow()
    v = conn.execute(_VIEW, {"v": view_id}).first()
    if v is None or v.status != HELD:
        return str(v.status) if v is not None else "unknown"
    c = get_campaign(conn, v.campaign_id)
    key = view_key(c.id, v.user_id, v.period)
    if standing.is_banned(conn, v.user_id):  # banned while the reward was held: back to the campaign
        release_join(conn, c, v.id, v.reward_id, v.fee_id, key, VOID, "banned", now)
        return VOID
    if member:
        ledger.post_pending(conn, v.reward_id, key=f"{key}:post", now=now)
        if v.fee_id is not None:
            ledger.post_pending(conn, v.fee_id, key=f"{key}:fee:post", now=now)
        conn.execute(update(ad_views).where(ad_views.c.id == v.id).values(status=PAID))
        commission = _commission(conn, c, v.user_id, key, s, now)
        notices.enqueue(
            conn,
            v.user_id,
            "ad_join_paid",
            {"title": c.title, "amount": c.price, "asset": c.asset, "commission": commission},
            key=f"ad_join:{v.id}",
            now=now,
        )
        return PAID
    release_join(conn, c, v.id, v.reward_id, v.fee_id, key, VOID, "left", now)
    notices.enqueue(
        conn,
        v.user_id,
        "ad_join_left",
        {"title": c.title, "channel": c.channel or "", "amount": c.price, "asset": c.asset},
        key=f"ad_join:{v.id}",
        now=now,
    )
    return VOID


def release_join(
    conn: Connection,
    c: Campaign,
    view_id: int,
    reward_id: int,
    fee_id: int | None,
    key: str,
    status: str,
    reason: str,
    now: datetime,
) -> None:
    """Void a held join reward and fee back to the campaign's escrow; a campaign that no longer
    runs sends what came back on to its advertiser at once."""
    ledger.void_pending(conn, reward_id, key=f"{key}:void", now=now)
    if fee_id is not None:
        ledger.void_pending(conn, fee_id, key=f"{key}:fee:void", now=now)
    conn.execute(update(ad_views).where(ad_views.c.id == view_id).values(status=status, reason=reason))
    if c.status in (CANCELLED, REJECTED):
        refund(conn, c, f"view:{view_id}", now)


REFUND_CODE = "ad_refund"


def refund(conn: Connection, c: Campaign, tag: str, now: datetime) -> int:
    """Send what the campaign's escrow can spend back to the advertiser (key ``ad:refund:{id}:{tag}``)."""
    left = budget_left(conn, c)
    if left <= 0:
        return 0
    ledger.transfer(
        conn,
        debit=c.escrow,
        credit=user_account(c.advertiser_id),
        asset=c.asset,
        amount=left,
        code=REFUND_CODE,
        key=f"ad:refund:{c.id}:{tag}",
        meta={"campaign": c.id},
        now=now,
    )
    return left


def pay_visit(
    conn: Connection, user_id: int, view_id: int, s: Settings, now: datetime | None = None
) -> Outcome:
    """Pay a visit whose puzzle was solved (``answer_claim`` calls this): the reward and the fee
    from the campaign's escrow, the referrer's commission from marketing, all or nothing."""
    return _pay_visit(conn, view_id, user_id, s, now or utcnow())
