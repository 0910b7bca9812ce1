"""Ads on the real database: escrowed budgets, one-time links, claims under races, join holds."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.earn import ad_campaigns, ad_tokens, ads, referrals
from core.earn.tables import ad_views
from core.money import ledger
from core.money.accounts import FEES, MARKETING, TREASURY, user_account
from core.platform.schema import utcnow
from tests.core.earn.ads_world import ADMIN, SECRET, S, campaign, claim, person, visit
from tests.money import available, fund

ADV, VIEWER = 500, 600


async def escrow(db, cid):
    return await available(db, ads.escrow_of(cid))


async def test_confirm_reserves_and_approve_posts_into_the_campaigns_escrow(db):
    cid = await campaign(db, ADV, views=10, price=100, approve=False)
    # 10 views x (100 + 20 fee): held on the advertiser, not yet in the escrow.
    assert await available(db, user_account(ADV)) == 0
    assert (await db.read(ledger.balance, user_account(ADV), "BTC")).balance == 1200
    assert await escrow(db, cid) == 0
    await db.write(ad_campaigns.approve, ADMIN, cid)
    assert await escrow(db, cid) == 1200
    assert (await db.read(ledger.balance, user_account(ADV), "BTC")).balance == 0


async def test_reject_voids_the_reserve_and_tells_the_reason(db):
    cid = await campaign(db, ADV, approve=False)
    with pytest.raises(ads.AdError) as err:
        await db.write(ad_campaigns.reject, ADMIN, cid, "   ")
    assert err.value.reason == "ad_reason_needed"
    c = await db.write(ad_campaigns.reject, ADMIN, cid, "Misleading landing page")
    assert c.status == "rejected" and c.reason == "Misleading landing page"
    assert await available(db, user_account(ADV)) == 1200
    with pytest.raises(ads.AdError):  # a second verdict (a stale button) changes nothing
        await db.write(ad_campaigns.approve, ADMIN, cid)
    assert await escrow(db, cid) == 0


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("title", "x" * 41, "ad_title_too_long"),
        ("title", "   ", "ad_title_empty"),
        ("description", "d" * 121, "ad_description_too_long"),
        ("url", "javascript:alert(1)", "ad_bad_url"),
        ("url", "data:text/html,<b>hi</b>", "ad_bad_url"),
        ("url", "https://", "ad_bad_url"),
        ("url", "http://exa mple.com", "ad_bad_url"),
        ("url", "https://user@evil.example", "ad_bad_url"),
        ("url", "ftp://example.com", "ad_bad_url"),
        ("price", 9, "ad_price_too_low"),
        ("views", 0, "ad_bad_views"),
        ("views", -5, "ad_bad_views"),
        ("duration", 4, "ad_bad_duration"),
        ("duration", 61, "ad_bad_duration"),
        ("lang", "xx", "ad_bad_lang"),
    ],
)
async def test_bad_campaigns_are_refused_and_move_nothing(db, field, value, reason):
    await person(db, ADV)
    await fund(db, user_account(ADV), 10**6)
    spec = dict(
        kind="visit", title="Fine", asset="BTC", price=100, views=10, url="https://ok.example", duration=10
    )
    spec[field] = value
    with pytest.raises(ads.AdError) as err:
        await db.write(ad_campaigns.create_draft, ADV, ad_campaigns.Spec(**spec), S)
    assert err.value.reason == reason
    assert await available(db, user_account(ADV)) == 10**6


async def test_a_budget_above_the_balance_is_refused(db):
    await person(db, ADV)
    await fund(db, user_account(ADV), 1199)
    spec = ad_campaigns.Spec(
        kind="visit", title="t", asset="BTC", price=100, views=10, url="https://a.example", duration=5
    )
    with pytest.raises(ads.AdError) as err:
        await db.write(ad_campaigns.create_draft, ADV, spec, S)
    assert err.value.reason == "ad_budget_above_balance"


async def test_visit_claim_pays_viewer_fee_and_referrer_commission(db):
    cid = await campaign(db, ADV)
    await person(db, 700)
    await person(db, VIEWER)
    await db.write(referrals.bind_referrer, VIEWER, referrals.invite_code(700))
    await fund(db, MARKETING, 10_000, key="m")
    await visit(db, VIEWER, cid, ago=10)
    out = await claim(db, VIEWER, cid)
    assert (out.status, out.amount) == ("paid", 100)
    assert await available(db, user_account(VIEWER)) == 100
    assert await available(db, FEES) == 20
    assert await escrow(db, cid) == 1200 - 120
    # 10% of 100 is 10, under the platform's cut of 20: paid from marketing.
    assert out.commission == 10 and await available(db, user_account(700)) == 10
    assert await available(db, MARKETING) == 10_000 - 10
    with pytest.raises(ads.AdError) as err:  # the same window again
        await db.write(ads.begin_claim, VIEWER, cid, S)
    assert err.value.reason == "ad_already" and err.value.params["seconds"] > 0


async def test_a_claim_before_the_timer_is_refused_with_the_seconds_left(db):
    cid = await campaign(db, ADV, duration=30)
    await person(db, VIEWER)
    await visit(db, VIEWER, cid, ago=10)
    with pytest.raises(ads.AdError) as err:
        await db.write(ads.begin_claim, VIEWER, cid, S)
    assert err.value.reason == "ad_too_early" and err.value.params["seconds"] == 20
    assert await available(db, user_account(VIEWER)) == 0


async def test_no_claim_without_a_visit_nor_on_ones_own_ad(db):
    cid = await campaign(db, ADV)
    await person(db, VIEWER)
    with pytest.raises(ads.AdError) as err:
        await db.write(ads.begin_claim, VIEWER, cid, S)
    assert err.value.reason == "ad_not_visited"
    with pytest.raises(ads.AdError) as err:
        await db.write(ads.begin_claim, ADV, cid, S)
    assert err.value.reason == "ad_own"


async def test_tokens_are_one_time_signed_and_expire(db):
    cid = await campaign(db, ADV)
    now = int(utcnow().timestamp())
    good = ad_tokens.make(SECRET, cid, VIEWER, now)
    assert (
        await db.write(ads.start_visit, ad_tokens.read(SECRET, good, now=now, ttl=600))
        == "https://example.com/landing"
    )
    with pytest.raises(ad_tokens.TokenError) as err:  # a second open
        await db.write(ads.start_visit, ad_tokens.read(SECRET, good, now=now, ttl=600))
    assert err.value.reason == "token_used"
    forged = [
        good[:-1],  # truncated
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # signature changed
        good.replace(f".{VIEWER}.", f".{VIEWER + 1}."),  # another viewer's name on this signature
        ad_tokens.make("another secret" * 3, cid, VIEWER, now),
        "",
        "1.2.3",
    ]
    for text in forged:
        with pytest.raises(ad_tokens.TokenError) as err:
            ad_tokens.read(SECRET, text, now=now, ttl=600)
        assert err.value.reason == "token_forged", text
    old = ad_tokens.make(SECRET, cid, VIEWER, now - 601)
    with pytest.raises(ad_tokens.TokenError) as err:
        ad_tokens.read(SECRET, old, now=now, ttl=600)
    assert err.value.reason == "token_expired"
    views = await db.read(lambda c: c.execute(select(ad_views.c.id)).all())
    assert len(views) == 1


async def test_fifty_concurrent_claims_by_one_viewer_pay_once(db):
    cid = await campaign(db, ADV, views=100)
    await person(db, VIEWER)
    base = int(utcnow().timestamp())
    view_ids = [await visit(db, VIEWER, cid, issued=base - i) for i in range(50)]
    outs = await asyncio.gather(*(db.write(ads.pay_visit, VIEWER, v, S) for v in view_ids))
    assert sorted(o.status for o in outs).count("paid") == 1
    assert {o.status for o in outs} == {"paid", "already"}
    assert await available(db, user_account(VIEWER)) == 100
    assert await escrow(db, cid) == 100 * 120 - 120


async def test_two_hundred_viewers_on_a_hundred_views_pay_exactly_a_hundred(db):
    cid = await campaign(db, ADV, views=100)
    viewers = list(range(1000, 1200))
    for v in viewers:
        await person(db, v)
    view_ids = [await visit(db, v, cid) for v in viewers]
    outs = await asyncio.gather(
        *(db.write(ads.pay_visit, u, v, S) for u, v in zip(viewers, view_ids, strict=True))
    )
    assert [o.status for o in outs].count("paid") == 100
    assert all(o.status == "void" and o.reason == "budget" for o in outs if o.status != "paid")
    assert await escrow(db, cid) == 0
    assert await available(db, FEES) == 100 * 20
    assert sum([await available(db, user_account(v)) for v in viewers]) == 100 * 100
    statuses = await db.read(lambda c: [r.status for r in c.execute(select(ad_views.c.status))])
    assert statuses.count("paid") == 100 and statuses.count("void") == 100


async def test_cancel_racing_claims_leaves_every_unit_in_one_place(db):
    cid = await campaign(db, ADV, views=50)
    viewers = list(range(2000, 2060))
    for v in viewers:
        await person(db, v)
    view_ids = [await visit(db, v, cid) for v in viewers]
    claims = [db.write(ads.pay_visit, u, v, S) for u, v in zip(viewers, view_ids, strict=True)]
    tasks = claims[:30] + [db.write(ad_campaigns.cancel, ADV, cid)] + claims[30:]
    results = await asyncio.gather(*tasks)
    refunded = results[30]
    paid = [r for r in results if isinstance(r, ads.Outcome) and r.status == "paid"]
    assert all(r.reason == "cancelled" for r in results if isinstance(r, ads.Outcome) and r.status == "void")
    assert len(paid) >= 30  # the first 30 came before the cancel
    total = 50 * 120
    assert len(paid) * 100 + len(paid) * 20 + refunded == total
    assert await available(db, user_account(ADV)) == refunded
    assert await available(db, FEES) == len(paid) * 20
    assert await escrow(db, cid) == 0


async def test_paused_campaign_refuses_claims_and_a_started_view_is_voided(db):
    cid = await campaign(db, ADV)
    await person(db, VIEWER)
    view = await visit(db, VIEWER, cid)
    await db.write(ad_campaigns.pause, ADV, cid)
    with pytest.raises(ads.AdError) as err:
        await db.write(ads.begin_claim, VIEWER, cid, S)
    assert err.value.reason == "ad_paused"
    out = await db.write(ads.pay_visit, VIEWER, view, S)  # a puzzle solved just as it was paused
    assert (out.status, out.reason) == ("void", "paused")
    assert await available(db, user_account(VIEWER)) == 0 and await escrow(db, cid) == 1200
    await db.write(ad_campaigns.resume, ADV, cid)
    await visit(db, VIEWER, cid)
    assert (await claim(db, VIEWER, cid)).status == "paid"


async def test_join_reward_is_held_then_posted_or_voided(db):
    cid = await campaign(db, ADV, kind="join", views=5)
    for u in (VIEWER, VIEWER + 1):
        await person(db, u)
    with pytest.raises(ads.AdError) as err:
        await db.write(ads.begin_claim, VIEWER, cid, S, member=False)
    assert err.value.reason == "ad_not_joined"
    held = await claim(db, VIEWER, cid, member=True)
    assert held.status == "held" and held.wait_seconds == S.join_hold
    await claim(db, VIEWER + 1, cid, member=True)
    assert await available(db, user_account(VIEWER)) == 0
    assert (await db.read(ledger.balance, ads.escrow_of(cid), "BTC")).available == 5 * 120 - 2 * 120
    assert await db.read(ads.due_joins) == []
    later = utcnow() + timedelta(seconds=S.join_hold + 1)
    due = await db.read(ads.due_joins, later)
    assert [d.user_id for d in due] == [VIEWER, VIEWER + 1] and due[0].channel == "@dustchan"
    assert await db.write(ads.settle_join, due[0].view_id, True, S, later) == "paid"
    assert await db.write(ads.settle_join, due[1].view_id, False, S, later) == "void"
    assert await db.write(ads.settle_join, due[1].view_id, True, S, later) == "void"  # settled once
    assert await available(db, user_account(VIEWER)) == 100
    assert await available(db, user_account(VIEWER + 1)) == 0
    assert await available(db, FEES) == 20
    assert await escrow(db, cid) == 5 * 120 - 120
    with pytest.raises(ads.AdError) as err:  # joined once: not paid again
        await db.write(ads.begin_claim, VIEWER, cid, S, member=True)
    assert err.value.reason == "ad_already"


async def test_a_join_voided_after_cancel_goes_back_to_the_advertiser(db):
    cid = await campaign(db, ADV, kind="join", views=3)
    await person(db, VIEWER)
    await claim(db, VIEWER, cid, member=True)
    assert await db.write(ad_campaigns.cancel, ADV, cid) == 2 * 120
    due = await db.read(ads.due_joins, utcnow() + timedelta(seconds=S.join_hold + 1))
    await db.write(ads.settle_join, due[0].view_id, False, S)
    assert await available(db, user_account(ADV)) == 3 * 120
    assert await escrow(db, cid) == 0


async def test_invalid_view_returns_its_cost_and_takes_back_only_a_held_reward(db):
    cid = await campaign(db, ADV)
    await person(db, VIEWER)
    await visit(db, VIEWER, cid)
    await claim(db, VIEWER, cid)
    view = await db.read(
        lambda c: c.execute(select(ad_views.c.id).where(ad_views.c.status == "paid")).scalar_one()
    )
    await db.write(
        ledger.transfer, debit="world", credit=TREASURY, asset="BTC", amount=1000, code="deposit", key="t"
    )
    before_treasury = await available(db, TREASURY)
    got = await db.write(ad_campaigns.invalidate, ADMIN, view)
    assert got.returned == 120 and not got.taken_back
    assert await escrow(db, cid) == 1200  # whole again
    assert await available(db, user_account(VIEWER)) == 100  # paid out: stays with the viewer
    assert await available(db, TREASURY) == before_treasury - 100
    with pytest.raises(ads.AdError):  # twice: refused
        await db.write(ad_campaigns.invalidate, ADMIN, view)

    join = await campaign(db, ADV + 1, kind="join", views=2)
    await claim(db, VIEWER, join, member=True)
    held = await db.read(
        lambda c: c.execute(select(ad_views.c.id).where(ad_views.c.status == "held")).scalar_one()
    )
    got = await db.write(ad_campaigns.invalidate, ADMIN, held)
    assert got.taken_back and await escrow(db, join) == 240
    assert await available(db, user_account(VIEWER)) == 100


async def test_feed_skips_own_spent_paid_and_other_language_ads(db):
    own = await campaign(db, VIEWER)
    es = await campaign(db, ADV, lang="es")
    other = await campaign(db, ADV + 1)
    third = await campaign(db, ADV + 2)
    got = await db.read(ads.next_ad, VIEWER, "en", S)
    assert got.campaign.id == other
    assert (await db.read(ads.next_ad, VIEWER, "en", S, after=other)).campaign.id == third
    assert (await db.read(ads.next_ad, VIEWER, "en", S, after=third)).campaign.id == other  # wraps
    assert (await db.read(ads.next_ad, VIEWER, "es", S, after=own)).campaign.id == es
    await visit(db, VIEWER, other)
    await claim(db, VIEWER, other)
    await visit(db, VIEWER, third)
    await claim(db, VIEWER, third)
    none = await db.read(ads.next_ad, VIEWER, "en", S)
    assert none.reason == "none" and 0 < none.wait_seconds <= 86400


async def test_daily_cap_and_minimum_age(db):
    a, b = await campaign(db, ADV), await campaign(db, ADV + 1)
    await person(db, VIEWER)
    capped = ads.Settings(fee_bp=2000, daily_cap=1, retry_wait=0)
    await visit(db, VIEWER, a)
    await claim(db, VIEWER, a)
    assert (await db.read(ads.next_ad, VIEWER, "en", capped)).reason == "daily_cap"
    await visit(db, VIEWER, b)
    with pytest.raises(ads.AdError) as err:
        await db.write(ads.begin_claim, VIEWER, b, capped)
    assert err.value.reason == "ad_daily_cap"
    young = ads.Settings(min_age=3600)
    got = await db.read(ads.next_ad, VIEWER, "en", young)
    assert got.reason == "too_new" and got.wait_seconds > 3500


async def test_top_up_edit_and_stats(db):
    cid = await campaign(db, ADV, views=2)
    await fund(db, user_account(ADV), 240, key="more")
    c = await db.write(ad_campaigns.top_up, ADV, cid, 2, key="k1")
    assert c.views == 4 and await escrow(db, cid) == 480
    await db.write(ad_campaigns.top_up, ADV, cid, 2, key="k1")  # a replayed tap
    assert await escrow(db, cid) == 480
    with pytest.raises(ads.AdError) as err:
        await db.write(ad_campaigns.top_up, ADV, cid, 2, key="k2")
    assert err.value.reason == "ad_budget_above_balance"
    with pytest.raises(ads.AdError):  # not the advertiser's
        await db.write(ad_campaigns.pause, VIEWER, cid)
    await person(db, VIEWER)
    await visit(db, VIEWER, cid)
    await claim(db, VIEWER, cid)
    [stats] = await db.read(ad_campaigns.campaigns_of, ADV)
    assert (stats.paid, stats.viewers, stats.visits, stats.spent, stats.left) == (1, 1, 1, 120, 360)
    assert stats.completion_bp == 10_000 and stats.views_left == 3
    c = await db.write(ad_campaigns.edit, ADV, cid, "url", "https://new.example")
    assert c.status == "review" and c.url == "https://new.example"
    assert [q.id for q in await db.read(ad_campaigns.review_queue)] == [cid]
    assert (await db.read(ads.next_ad, VIEWER + 1, "en", S)).reason == "none"
    await db.write(ad_campaigns.approve, ADMIN, cid)
    assert await escrow(db, cid) == 360  # the funding was posted once, at the first approval


async def test_invalid_paid_join_refunds_the_campaign_from_the_platform(db):
    cid = await campaign(db, ADV, kind="join", views=2)
    await person(db, VIEWER)
    await claim(db, VIEWER, cid, member=True)
    later = utcnow() + timedelta(seconds=S.join_hold + 1)
    [due] = await db.read(ads.due_joins, later)
    await db.write(ads.settle_join, due.view_id, True, S, later)
    await db.write(
        ledger.transfer, debit="world", credit=TREASURY, asset="BTC", amount=1000, code="deposit", key="t"
    )
    got = await db.write(ad_campaigns.invalidate, ADMIN, due.view_id)
    assert not got.taken_back and await escrow(db, cid) == 240
    assert await available(db, user_account(VIEWER)) == 100 and await available(db, FEES) == 0
