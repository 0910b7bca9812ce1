"""Ad campaigns: the advertiser's side and moderation (the viewer's side is core.earn.ads).

Life of a campaign: ``draft`` (a quote, nothing moved) -> Confirm reserves the total from the
advertiser into the campaign's escrow ``ad_escrow:c<id>`` (pending, key ``ad:fund:{id}``) and
sends it to ``review`` -> an admin approves (the reserve is posted: ``active``) or rejects it
(the reserve is voided, the reason goes to the advertiser: ``rejected``). A live campaign can
be ``paused`` and resumed, topped up (more views, paid at once into its escrow), cancelled
(what its escrow can still spend goes back at once) and edited: a new URL or title sends it
back to ``review`` until an admin approves it again (a rejection then returns the budget).

The total of N views at price P: ``N * P`` for the viewers plus the fee ``N * f`` where
``f = ceil(P * ads.fee)`` is the platform's cut of each view, so the escrow of a campaign
that ran out is exactly zero, whatever the rounding.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection, func, select, update

from core.earn.ads import (
    ACTIVE,
    CANCELLED,
    DRAFT,
    HELD,
    INVALID,
    JOIN,
    MAX_DURATION,
    MIN_DURATION,
    PAID,
    PAUSED,
    REJECTED,
    REVIEW,
    VISIT,
    AdError,
    Campaign,
    Settings,
    budget_left,
    get_campaign,
    refund,
    release_join,
    view_key,
)
from core.earn.tables import ad_campaigns, ad_views
from core.errors import InsufficientFunds
from core.identity.users import LANGUAGES
from core.money import ledger
from core.money.accounts import FEES, TREASURY, user_account
from core.money.amounts import MAX_AMOUNT
from core.money.assets import get_asset
from core.platform import audit, notices
from core.platform.schema import utcnow

BUDGET_CODE, INVALID_CODE = "ad_budget", "ad_invalid"
MAX_TITLE, MAX_DESCRIPTION, MAX_URL, MAX_VIEWS = 40, 120, 512, 1_000_000
_CHANNEL = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{3,31})", re.ASCII)
_T_ME = re.compile(r"(?:https?://)?(?:t\.me|telegram\.me)/([A-Za-z][A-Za-z0-9_]{3,31})/?", re.ASCII)


@dataclass(frozen=True, slots=True)
class Spec:
    """A campaign as the advertiser describes it (amounts in minor units)."""

    kind: str
    title: str
    asset: str
    price: int
    views: int
    url: str | None = None
    channel: str | None = None
    duration: int = 0
    description: str = ""
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    campaign_id: int
    views: int
    price: int
    fee_per_view: int
    asset: str

    @property
    def budget(self) -> int:
        return self.views * self.price

    @property
    def fee(self) -> int:
        return self.views * self.fee_per_view

    @property
    def total(self) -> int:
        return self.budget + self.fee


# --- checks, one per field: the wizard asks again after any of them refuses --------------


def check_title(text: str) -> str:
    title = " ".join((text or "").split())
    if not title:
        raise AdError("ad_title_empty")
    if len(title) > MAX_TITLE:
        raise AdError("ad_title_too_long", limit=MAX_TITLE, length=len(title))
    return title


def check_description(text: str) -> str:
    description = " ".join((text or "").split())
    if len(description) > MAX_DESCRIPTION:
        raise AdError("ad_description_too_long", limit=MAX_DESCRIPTION, length=len(description))
    return description


_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*",
    re.ASCII,
)


def check_url(text: str) -> str:
    """An absolute http(s) URL with a plain host name or IPv4 address: no ``javascript:``,
    ``data:``, no user@ part (it hides the real host), no spaces or control characters."""
    url = (text or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _port = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise AdError("ad_bad_url", url=url[:60]) from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or len(url) > MAX_URL
        or "@" in parts.netloc
        or _HOST.fullmatch(host) is None
        or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url)
    ):
        raise AdError("ad_bad_url", url=url[:60])
    return url


def check_channel(text: str) -> str:
    """``@name``, ``name`` or a t.me link -> ``@name``."""
    raw = (text or "").strip()
    m = _T_ME.fullmatch(raw) or _CHANNEL.fullmatch(raw)
    if m is None:
        raise AdError("ad_bad_channel", channel=raw[:40])
    return "@" + m[1]


def check_duration(seconds: int) -> int:
    if not MIN_DURATION <= seconds <= MAX_DURATION:
        raise AdError("ad_bad_duration", low=MIN_DURATION, high=MAX_DURATION)
    return seconds


def check_views(views: int) -> int:
    if not 0 < views <= MAX_VIEWS:
        raise AdError("ad_bad_views", high=MAX_VIEWS)
    return views


def check_price(price: int, asset: str, s: Settings) -> int:
    low = max(1, (s.min_prices or {}).get(asset, 1))
    if price < low:
        raise AdError("ad_price_too_low", minimum=low, asset=asset)
    return price


def check_lang(lang: str | None) -> str | None:
    if lang in (None, "", "any", "*"):
        return None
    if lang not in LANGUAGES:
        raise AdError("ad_bad_lang", lang=str(lang)[:8])
    return lang


def checked(spec: Spec, s: Settings) -> Spec:
    """Every field checked; raises the first AdError."""
    asset = get_asset(spec.asset).code
    kind = spec.kind if spec.kind in (VISIT, JOIN) else ""
    if not kind:
        raise AdError("ad_bad_kind")
    return Spec(
        kind=kind,
        title=check_title(spec.title),
        description=check_description(spec.description),
        url=check_url(spec.url or "") if kind == VISIT else None,
        channel=check_channel(spec.channel or "") if kind == JOIN else None,
        duration=check_duration(spec.duration) if kind == VISIT else 0,
        asset=asset,
        price=check_price(spec.price, asset, s),
        views=check_views(spec.views),
        lang=check_lang(spec.lang),
    )


def fee_per_view(price: int, fee_bp: int) -> int:
    """The platform's cut of one view: ``ads.fee`` of the price, rounded up (in its favour)."""
    return math.ceil(price * fee_bp / 10_000) if fee_bp > 0 else 0


def _total(views: int, price: int, fee: int) -> int:
    total = views * (price + fee)
    if total > MAX_AMOUNT:
        raise AdError("ad_budget_above_balance", total=total)
    return total


# --- the advertiser --------------------------------------------------------------------


def create_draft(
    conn: Connection, advertiser_id: int, spec: Spec, s: Settings, now: datetime | None = None
) -> Quote:
    """Check ``spec`` and store it as a draft; the quote it returns moves nothing yet.
    Refuses a total above what the advertiser can spend now (``ad_budget_above_balance``)."""
    now = now or utcnow()
    spec = checked(spec, s)
    fee = fee_per_view(spec.price, s.fee_bp)
    total = _total(spec.views, spec.price, fee)
    available = ledger.balance(conn, user_account(advertiser_id), spec.asset).available
    if total > available:
        raise AdError("ad_budget_above_balance", total=total, available=available, asset=spec.asset)
    new_id = conn.execute(
        ad_campaigns.insert()
        .values(
            advertiser_id=advertiser_id,
            kind=spec.kind,
            title=spec.title,
            description=spec.description,
            url=spec.url,
            channel=spec.channel,
            duration=spec.duration,
            asset=spec.asset,
            price=spec.price,
            fee=fee,
            views=spec.views,
            lang=spec.lang,
            frequency=s.frequency,
            status=DRAFT,
            created_at=now,
            updated_at=now,
        )
        .returning(ad_campaigns.c.id)
    ).scalar_one()
    return Quote(new_id, spec.views, spec.price, fee, spec.asset)


def _own(conn: Connection, advertiser_id: int, campaign_id: int) -> Campaign:
    c = get_campaign(conn, campaign_id)
    if c.advertiser_id != advertiser_id:
        raise AdError("ad_unknown", id=campaign_id)  # another's campaign is as good as none
    return c


def _set(conn: Connection, c: Campaign, now: datetime, **values: object) -> None:
    conn.execute(update(ad_campaigns).where(ad_campaigns.c.id == c.id).values(updated_at=now, **values))


def confirm(conn: Connection, advertiser_id: int, campaign_id: int, now: datetime | None = None) -> Campaign:
    """Reserve the draft's total into its escrow (pending, key ``ad:fund:{id}``) and send it to review.
    A second Confirm, or one on another's draft, is refused and moves nothing."""
    now = now or utcnow()
    c = _own(conn, advertiser_id, campaign_id)
    if c.status != DRAFT:
        raise AdError("ad_not_draft", id=c.id)
    total = _total(c.views, c.price, c.fee)
    try:
        t = ledger.reserve(
            conn,
            debit=user_account(advertiser_id),
            credit=c.escrow,
            asset=c.asset,
            amount=total,
            code=BUDGET_CODE,
            key=f"ad:fund:{c.id}",
            meta={"campaign": c.id, "views": c.views},
            now=now,
        )
    except InsufficientFunds:
        raise AdError("ad_budget_above_balance", total=total, asset=c.asset) from None
    _set(conn, c, now, status=REVIEW, reserve_id=t.id)
    return get_campaign(conn, c.id)


def pause(conn: Connection, advertiser_id: int, campaign_id: int, now: datetime | None = None) -> Campaign:
    c = _own(conn, advertiser_id, campaign_id)
    if c.status != ACTIVE:
        raise AdError("ad_not_active", id=c.id)
    _set(conn, c, now or utcnow(), status=PAUSED)
    return get_campaign(conn, c.id)


def resume(conn: Connection, advertiser_id: int, campaign_id: int, now: datetime | None = None) -> Campaign:
    c = _own(conn, advertiser_id, campaign_id)
    if c.status != PAUSED:
        raise AdError("ad_not_paused", id=c.id)
    _set(conn, c, now or utcnow(), status=ACTIVE)
    return get_campaign(conn, c.id)


def cancel(conn: Connection, advertiser_id: int, campaign_id: int, now: datetime | None = None) -> int:
    """Stop the campaign for good; what its escrow can still spend goes back now. Returns that
    amount. Join rewards still held stay held: each goes to its viewer, or back to the
    advertiser when it is voided (core.earn.ads.release_join)."""
    now = now or utcnow()
    c = _own(conn, advertiser_id, campaign_id)
    if c.status in (CANCELLED, REJECTED):
        raise AdError("ad_over", title=c.title)
    _set(conn, c, now, status=CANCELLED)
    if c.status == DRAFT:
        return 0
    if c.status == REVIEW and c.revision == 0 and c.reserve_id is not None:
        ledger.void_pending(conn, c.reserve_id, key=f"ad:fund:{c.id}:void", now=now)
        return _total(c.views, c.price, c.fee)
    return refund(conn, get_campaign(conn, c.id), "cancel", now)


def top_up(
    conn: Connection,
    advertiser_id: int,
    campaign_id: int,
    views: int,
    *,
    key: str,
    now: datetime | None = None,
) -> Campaign:
    """More views for a live campaign, paid at once into its escrow (key ``ad:topup:{id}:{key}``)."""
    now = now or utcnow()
    c = _own(conn, advertiser_id, campaign_id)
    if c.status not in (ACTIVE, PAUSED):
        raise AdError("ad_not_live", id=c.id)
    views = check_views(views)
    total = _total(views, c.price, c.fee)
    try:
        t = ledger.transfer(
            conn,
            debit=user_account(advertiser_id),
            credit=c.escrow,
            asset=c.asset,
            amount=total,
            code=BUDGET_CODE,
            key=f"ad:topup:{c.id}:{key}",
            meta={"campaign": c.id, "views": views},
            now=now,
        )
    except InsufficientFunds:
        raise AdError("ad_budget_above_balance", total=total, asset=c.asset) from None
    if not t.replayed:
        conn.execute(
            update(ad_campaigns)
            .where(ad_campaigns.c.id == c.id)
            .values(views=ad_campaigns.c.views + views, updated_at=now)
        )
    return get_campaign(conn, c.id)


def edit(
    conn: Connection,
    advertiser_id: int,
    campaign_id: int,
    field: str,
    value: str,
    now: datetime | None = None,
) -> Campaign:
    """A new ``url`` or ``title`` (or ``description``) for a live campaign: the URL and the title
    send it back to review (it is not shown meanwhile)."""
    now = now or utcnow()
    c = _own(conn, advertiser_id, campaign_id)
    if c.status not in (ACTIVE, PAUSED, REVIEW) or (c.status == REVIEW and c.revision == 0):
        raise AdError("ad_not_live", id=c.id)
    if field == "url":
        if c.kind != VISIT:
            raise AdError("ad_bad_kind")
        values: dict[str, object] = {"url": check_url(value)}
    elif field == "title":
        values = {"title": check_title(value)}
    elif field == "description":
        _set(conn, c, now, description=check_description(value))
        return get_campaign(conn, c.id)
    else:
        raise AdError("ad_bad_field", field=field[:16])
    _set(conn, c, now, status=REVIEW, revision=c.revision + 1, **values)
    return get_campaign(conn, c.id)


# --- moderation --------------------------------------------------------------------------

_QUEUE = select(ad_campaigns).where(ad_campaigns.c.status == REVIEW).order_by(ad_campaigns.c.updated_at)


def review_queue(conn: Connection, limit: int = 20) -> list[Campaign]:
    return [Campaign.from_row(r) for r in conn.execute(_QUEUE.limit(limit))]


def approve(conn: Connection, admin_id: int, campaign_id: int, now: datetime | None = None) -> Campaign:
    """Post the funding reserve into the campaign's escrow (or, after an edit, just let it run
    again) and tell the advertiser. Audited (``ad_approved``)."""
    now = now or utcnow()
    c = get_campaign(conn, campaign_id)
    if c.status != REVIEW:
        raise AdError("ad_not_in_review", id=c.id)
    if c.revision == 0 and c.reserve_id is not None:
        ledger.post_pending(conn, c.reserve_id, key=f"ad:fund:{c.id}:post", now=now)
    _set(conn, c, now, status=ACTIVE, reason=None)
    audit.record(conn, "ad_approved", actor=admin_id, target=f"campaign:{c.id}", revision=c.revision, now=now)
    notices.enqueue(
        conn,
        c.advertiser_id,
        "ad_approved",
        {"id": c.id, "title": c.title},
        key=f"ad_approved:{c.id}:{c.revision}",
        now=now,
    )
    return get_campaign(conn, c.id)


def reject(
    conn: Connection, admin_id: int, campaign_id: int, reason: str, now: datetime | None = None
) -> Campaign:
    """Void the funding reserve (after an edit: send the unspent budget back) and tell the
    advertiser why. Audited (``ad_rejected``)."""
    now = now or utcnow()
    reason = " ".join((reason or "").split())[:200]
    if not reason:
        raise AdError("ad_reason_needed")
    c = get_campaign(conn, campaign_id)
    if c.status != REVIEW:
        raise AdError("ad_not_in_review", id=c.id)
    _set(conn, c, now, status=REJECTED, reason=reason)
    if c.revision == 0 and c.reserve_id is not None:
        ledger.void_pending(conn, c.reserve_id, key=f"ad:fund:{c.id}:void", now=now)
    else:
        refund(conn, get_campaign(conn, c.id), f"reject:{c.revision}", now)
    audit.record(conn, "ad_rejected", actor=admin_id, target=f"campaign:{c.id}", reason=reason, now=now)
    notices.enqueue(
        conn,
        c.advertiser_id,
        "ad_rejected",
        {"id": c.id, "title": c.title, "reason": reason},
        key=f"ad_rejected:{c.id}:{c.revision}",
        now=now,
    )
    return get_campaign(conn, c.id)


@dataclass(frozen=True, slots=True)
class Invalidated:
    view_id: int
    campaign_id: int
    returned: int  # minor units back in the campaign (or with its advertiser)
    taken_back: bool  # the viewer's reward was still held, and is voided


def invalidate(conn: Connection, admin_id: int, view_id: int, now: datetime | None = None) -> Invalidated:
    """Mark a paid or held view invalid (fraud): its cost goes back to the campaign. A reward
    still held is voided; one already paid stays with the viewer and the platform pays the
    campaign back (the fee from ``fees``, the reward from ``treasury``). Audited."""
    now = now or utcnow()
    v = conn.execute(select(ad_views).where(ad_views.c.id == view_id)).first()
    if v is None or v.status not in (PAID, HELD):
        raise AdError("ad_view_not_paid", id=view_id)
    c = get_campaign(conn, v.campaign_id)
    key = view_key(c.id, v.user_id, v.period)
    if v.status == HELD:
        release_join(conn, c, v.id, v.reward_id, v.fee_id, key, INVALID, "invalid", now)
        taken_back = True
    else:
        back = f"ad:invalid:{v.id}"
        meta = {"campaign": c.id, "view": v.id}
        if v.fee_id is not None:  # the platform gives its cut back (a join's fee was posted from a reserve)
            ledger.transfer(
                conn,
                debit=FEES,
                credit=c.escrow,
                asset=c.asset,
                amount=c.fee,
                code=INVALID_CODE,
                key=f"{back}:fee",
                meta=meta,
                now=now,
            )
        ledger.transfer(
            conn,
            debit=TREASURY,
            credit=c.escrow,
            asset=c.asset,
            amount=c.price,
            code=INVALID_CODE,
            key=back,
            meta=meta,
            now=now,
        )
        conn.execute(update(ad_views).where(ad_views.c.id == v.id).values(status=INVALID, reason="invalid"))
        if c.status in (CANCELLED, REJECTED):
            refund(conn, c, f"view:{v.id}", now)
        taken_back = False
    audit.record(
        conn, "ad_view_invalid", actor=admin_id, target=f"campaign:{c.id}", view=v.id, user=v.user_id, now=now
    )
    return Invalidated(v.id, c.id, c.unit, taken_back)


# --- what the advertiser sees -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stats:
    campaign: Campaign
    paid: int  # views paid (join rewards posted)
    held: int  # join rewards reserved, not posted yet
    viewers: int  # unique viewers paid or held
    visits: int  # tracking links opened (visit ads) or verified joins
    spent: int  # minor units that left the escrow for views and fees
    left: int  # minor units the escrow can still spend

    @property
    def views_left(self) -> int:
        return self.left // self.campaign.unit if self.campaign.unit else 0

    @property
    def completion_bp(self) -> int:
        """Paid views per visit started, in basis points (0 without visits)."""
        return self.paid * 10_000 // self.visits if self.visits else 0


def campaigns_of(conn: Connection, advertiser_id: int, limit: int = 10) -> list[Stats]:
    """The advertiser's campaigns, newest first, with their numbers (drafts left out)."""
    rows = conn.execute(
        select(ad_campaigns)
        .where(ad_campaigns.c.advertiser_id == advertiser_id, ad_campaigns.c.status != DRAFT)
        .order_by(ad_campaigns.c.id.desc())
        .limit(limit)
    ).all()
    out: list[Stats] = []
    for row in rows:
        c = Campaign.from_row(row)
        counts = dict(
            conn.execute(
                select(ad_views.c.status, func.count())
                .where(ad_views.c.campaign_id == c.id)
                .group_by(ad_views.c.status)
            ).all()
        )
        viewers = conn.execute(
            select(func.count(func.distinct(ad_views.c.user_id))).where(
                ad_views.c.campaign_id == c.id, ad_views.c.status.in_((PAID, HELD))
            )
        ).scalar_one()
        paid, held = counts.get(PAID, 0), counts.get(HELD, 0)
        out.append(
            Stats(
                campaign=c,
                paid=paid,
                held=held,
                viewers=viewers,
                visits=sum(counts.values()),
                spent=paid * c.unit,
                left=budget_left(conn, c),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class ViewLine:
    id: int
    user_id: int
    status: str
    started_at: datetime
    reason: str | None


def views_of(conn: Connection, campaign_id: int, limit: int = 20) -> list[ViewLine]:
    """The campaign's latest visits and joins, newest first: what an admin looks at for fraud."""
    get_campaign(conn, campaign_id)
    rows = conn.execute(
        select(ad_views.c.id, ad_views.c.user_id, ad_views.c.status, ad_views.c.started_at, ad_views.c.reason)
        .where(ad_views.c.campaign_id == campaign_id)
        .order_by(ad_views.c.id.desc())
        .limit(limit)
    )
    return [ViewLine(r.id, r.user_id, r.status, r.started_at, r.reason) for r in rows]
