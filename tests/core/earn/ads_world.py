"""Ad campaigns for tests: funded advertisers, approved campaigns, opened links, solved puzzles."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from core.earn import ad_campaigns, ad_tokens, ads
from core.earn.tables import ad_views
from core.identity import captcha
from core.identity.users import upsert_user
from core.money.accounts import user_account
from core.platform.schema import utcnow
from tests.money import fund

SECRET = "k" * 40
S = ads.Settings(fee_bp=2000, frequency=86400, daily_cap=50, retry_wait=0, min_prices={"BTC": 10})
ADMIN = 9001
_LAST: dict[tuple[int, int], int] = {}


async def person(db, user_id: int, **kw) -> None:
    await db.write(upsert_user, id=user_id, username=kw.get("username"), first_name="P", language_code="en")


async def campaign(
    db,
    advertiser: int = 500,
    *,
    views: int = 10,
    price: int = 100,
    kind: str = "visit",
    duration: int = 5,
    lang: str | None = None,
    approve: bool = True,
    funds: int | None = None,
    s: ads.Settings = S,
) -> int:
    """An advertiser with enough BTC and a campaign confirmed (and approved) by them."""
    await person(db, advertiser)
    fee = ad_campaigns.fee_per_view(price, s.fee_bp)
    await fund(
        db,
        user_account(advertiser),
        funds or views * (price + fee),
        key=f"adv{advertiser}:{utcnow().timestamp()}",
    )
    spec = ad_campaigns.Spec(
        kind=kind,
        title="Visit us",
        asset="BTC",
        price=price,
        views=views,
        url="https://example.com/landing" if kind == "visit" else None,
        channel="@dustchan" if kind == "join" else None,
        duration=duration,
        lang=lang,
    )
    quote = await db.write(ad_campaigns.create_draft, advertiser, spec, s)
    await db.write(ad_campaigns.confirm, advertiser, quote.campaign_id)
    if approve:
        await db.write(ad_campaigns.approve, ADMIN, quote.campaign_id)
    return quote.campaign_id


async def visit(db, user_id: int, campaign_id: int, *, ago: int = 10, issued: int | None = None) -> int:
    """Open a fresh tracking link, then move that visit's start ``ago`` seconds into the past."""
    now = utcnow()
    if issued is None:  # each link its own: a later second than this viewer's last link to this ad
        issued = max(int(now.timestamp()), _LAST.get((user_id, campaign_id), 0) + 1)
        _LAST[(user_id, campaign_id)] = issued
    text = ad_tokens.make(SECRET, campaign_id, user_id, issued)
    token = ad_tokens.read(SECRET, text, now=int(now.timestamp()), ttl=600)
    await db.write(ads.start_visit, token)
    digest = token.digest

    def backdate(conn):
        conn.execute(
            update(ad_views)
            .where(ad_views.c.token_hash == digest)
            .values(started_at=now - timedelta(seconds=ago))
        )
        return conn.execute(select(ad_views.c.id).where(ad_views.c.token_hash == digest)).scalar_one()

    return await db.write(backdate)


async def right_option(db, challenge_id: int) -> int:
    t = captcha.challenges
    return await db.read(lambda c: c.execute(select(t.c.answer).where(t.c.id == challenge_id)).scalar_one())


async def claim(
    db, user_id: int, campaign_id: int, *, member: bool | None = None, now: datetime | None = None
):
    ch = await db.write(ads.begin_claim, user_id, campaign_id, S, member=member, now=now)
    return await db.write(
        ads.answer_claim, user_id, ch.id, await right_option(db, ch.id), S, member=member, now=now
    )


async def ad_world(db) -> None:
    """Campaign 1 waiting for review, campaign 2 running with view 1 paid: what /adreject 1 and
    /invalidview 1 act on."""
    await campaign(db, 500, approve=False)
    running = await campaign(db, 501)
    await person(db, 600)
    await visit(db, 600, running)
    await claim(db, 600, running)
