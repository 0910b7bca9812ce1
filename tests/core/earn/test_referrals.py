"""The referral commission rule: never more than the platform's own cut, and a daily cap per referrer."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.earn import faucet, payout_links, referrals
from core.earn import sites as faucet_sites
from core.identity.users import upsert_user
from core.money.accounts import FAUCET_POOL, MARKETING, user_account
from core.platform.db import Database
from core.platform.params import Params
from tests.conftest import PG_URL
from tests.money import available, fund

T0 = datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)
S = faucet.Settings(reward=100, interval=3600, retry_wait=5, challenge_ttl=600, commission_bp=1000)
OWNER, SECOND = 500, 501  # a site owner and the second account that "invited" him
ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@pytest.mark.parametrize(
    "share_bp, earning, platform_cut, expected",
    [
        (1000, 100, 100, 10),  # faucet: the platform pays the whole claim, so its cut is the claim
        (1000, 100, 0, 0),  # faucet site: the site pays from its escrow, the platform earns nothing
        (1000, 100, 5, 5),  # never more than the platform's cut
        (1000, 9, 9, 0),  # rounds down, in the platform's favour
        (10_000, 100, 100, 100),
        (0, 100, 100, 0),
        (1000, 0, 0, 0),
        (1000, 100, -5, 0),  # a loss is no cut
    ],
)
def test_commission_is_never_more_than_the_platforms_cut(share_bp, earning, platform_cut, expected):
    assert referrals.commission_for(share_bp, earning, platform_cut) == expected


def test_every_asset_has_a_daily_cap_setting():
    params = Params(env={"REFERRAL_DAILY_CAP_BTC": "0.00000025"})
    assert params.get("referral.daily_cap.BTC") == 25
    for code in ("LTC", "DOGE", "USDT", "TRX", "DUST"):
        assert params.get(f"referral.daily_cap.{code}") > 0


async def users(db, *ids):
    for uid in ids:
        await db.write(upsert_user, id=uid, username=f"u{uid}", first_name="U", language_code="en")


async def test_a_site_owner_cannot_farm_commission_by_paying_himself(db):
    """The farm from the issue: the owner, invited by his own second account, funds his
    site's escrow, pays himself through send, and does it again. The platform pays nothing."""
    await fund(db, MARKETING, 1_000_000, key="m")
    await fund(db, user_account(OWNER), 10_000, key="o")
    await users(db, OWNER, SECOND)
    await db.write(referrals.record_start, OWNER, referrals.invite_code(SECOND))
    await db.write(referrals.activate, OWNER)
    await db.write(payout_links.link, OWNER, "BTC", ADDR)
    site, _key = await db.write(
        faucet_sites.add_site,
        owner_id=OWNER,
        name="Me",
        url="https://me.example",
        asset="BTC",
        reward=10,
        timer=60,
    )
    for n in range(10):
        await db.write(faucet_sites.fund_site, OWNER, site.id, 10_000, key=f"round{n}")
        for i in range(10):
            await db.write(
                faucet_sites.send,
                site,
                to=ADDR,
                amount=1_000,
                idempotency_key=f"r{n}-{i}",
                share_bp=1000,
                now=T0,
            )
    assert await available(db, user_account(OWNER)) == 10_000  # all of it came back, round after round
    assert await available(db, user_account(SECOND)) == 0
    assert await available(db, MARKETING) == 1_000_000
    assert (await db.read(referrals.stats, SECOND)).earned == {}


async def claim(db, uid, now=T0, s=S):
    ch = await db.write(faucet.new_challenge, uid, "BTC", s, now=now)
    return await db.write(
        faucet.answer_challenge, uid, ch.id, ch.options.index(ch.target), lambda a: s, now=now
    )


async def test_the_daily_cap_limits_platform_paid_commission_per_referrer(db):
    capped = faucet.Settings(
        reward=100, interval=3600, retry_wait=5, challenge_ttl=600, commission_bp=1000, commission_cap=25
    )
    await fund(db, FAUCET_POOL, 100_000)
    await fund(db, MARKETING, 100_000, key="m")
    await users(db, 1, 2, 3, 4, 5)
    for friend in (2, 3, 4, 5):
        await db.write(referrals.record_start, friend, referrals.invite_code(1))
    got = [(await claim(db, friend, s=capped)).commission for friend in (2, 3, 4, 5)]
    assert got == [10, 10, 5, 0]  # the last before the cap is paid in part, then nothing
    assert await available(db, user_account(1)) == 25
    assert [await available(db, user_account(f)) for f in (2, 3, 4, 5)] == [100] * 4  # friends never lose
    tomorrow = T0 + timedelta(days=1)
    assert (await claim(db, 2, now=tomorrow, s=capped)).commission == 10  # a new day, a new cap
    assert await db.read(referrals.paid_today, 1, "BTC", tomorrow) == 10


async def test_concurrent_earnings_never_pass_the_daily_cap(db, database_url):
    """Forty friends claim at once (on PostgreSQL through four writer connections, as four
    instances would); the referrer gets exactly the cap, and marketing pays exactly that."""
    capped = faucet.Settings(
        reward=100, interval=3600, retry_wait=5, challenge_ttl=600, commission_bp=1000, commission_cap=155
    )
    await fund(db, FAUCET_POOL, 100_000)
    await fund(db, MARKETING, 100_000, key="m")
    friends = list(range(2, 42))
    await users(db, 1, *friends)
    challenges = {}
    for friend in friends:
        await db.write(referrals.record_start, friend, referrals.invite_code(1))
        challenges[friend] = await db.write(faucet.new_challenge, friend, "BTC", capped, now=T0)
    racing = Database(database_url, writers=4) if PG_URL else db
    await racing.start()
    try:
        outs = await asyncio.gather(
            *(
                racing.write(
                    faucet.answer_challenge,
                    f,
                    ch.id,
                    ch.options.index(ch.target),
                    lambda a: capped,
                    now=T0,
                )
                for f, ch in challenges.items()
            )
        )
    finally:
        if racing is not db:
            await racing.close()
    assert all(o.status == "paid" for o in outs)
    assert sum(o.commission for o in outs) == 155
    assert await available(db, user_account(1)) == 155
    assert await available(db, MARKETING) == 100_000 - 155
    assert await db.read(referrals.paid_today, 1, "BTC", T0) == 155


async def test_a_skipped_commission_does_not_use_up_the_cap(db):
    """Marketing is empty: the commission is skipped, and today's cap is still whole."""
    capped = faucet.Settings(
        reward=100, interval=3600, retry_wait=5, challenge_ttl=600, commission_bp=1000, commission_cap=25
    )
    await fund(db, FAUCET_POOL, 100_000)
    await users(db, 1, 2, 3)
    for friend in (2, 3):
        await db.write(referrals.record_start, friend, referrals.invite_code(1))
    assert (await claim(db, 2, s=capped)).commission == 0
    assert await db.read(referrals.paid_today, 1, "BTC", T0) == 0
    await fund(db, MARKETING, 1_000, key="m")
    assert (await claim(db, 3, s=capped)).commission == 10
