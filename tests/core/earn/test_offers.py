"""Offer credits on a real database: holds, release, reversals, debts, trust, referral
commission, idempotency and races (SQLite, and PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.earn import debts, faucet, offers, postbacks, referrals
from core.earn.tables import offer_credits
from core.identity.users import upsert_user
from core.money import ledger
from core.money.accounts import FAUCET_POOL, MARKETING, OFFER_POOL, user_account
from core.platform.params import Params
from core.platform.schema import utcnow
from tests.core.earn.test_postbacks import SECRET, _mutate, signed
from tests.money import available, fund

KEY = "k" * 40
ADMIN, ALICE, BOB = 9001, 111, 222
PARAMS = Params(env={})


def s_of(asset: str) -> offers.Settings:
    return offers.settings_for(PARAMS, asset)


async def setup_wall(db, network="cpx", *, hold_above="1", pool=10**9, trust_min=None, name="w"):
    for uid in (ALICE, BOB):
        await db.write(upsert_user, id=uid, username=f"u{uid}", first_name="U", language_code="en")
    wall = await db.write(
        offers.add_wall,
        admin_id=ADMIN,
        network=network,
        name=name,
        app_id="123",
        secret=SECRET,
        asset="DOGE",
        rate="0.00001",
        secret_key=KEY,
    )
    await db.write(offers.set_hold, ADMIN, name, hold_above)
    if pool:
        await fund(db, OFFER_POOL, pool, asset="DOGE", key=f"pool-{name}")
    return wall


async def open_for(db, user_id):
    links = await db.write(offers.open_walls, user_id, KEY)
    return links


def completion(wall, user_id, *, txid="T1", units=250, reversal=False, proof=None):
    return postbacks.Completion(
        wall.network, txid, offers.sub_id_for(KEY, wall.id, user_id), units * 10**8, reversal, proof
    )


async def deliver(db, wall, done, ip="1.2.3.4", settings_of=s_of, now=None):
    return await db.write(offers.record_postback, wall.id, done, ip=ip, settings_of=settings_of, now=now)


def trusting(asset: str) -> offers.Settings:
    s = s_of(asset)
    return offers.Settings(**{**{f: getattr(s, f) for f in s.__dataclass_fields__}, "trust_min": -(10**6)})


async def test_sub_id_is_opaque_and_stable(db):
    wall = await setup_wall(db)
    first = await open_for(db, ALICE)
    again = await open_for(db, ALICE)
    bob = await open_for(db, BOB)
    assert first == again and first[0].url != bob[0].url
    sub = offers.sub_id_for(KEY, wall.id, ALICE)
    assert sub in first[0].url and str(ALICE) not in sub and str(ALICE) not in first[0].url


async def test_trusted_small_credit_posts_at_once_and_shows_in_history(db):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    out = await deliver(db, wall, completion(wall, ALICE, units=25), settings_of=trusting)
    assert (out.status, out.amount) == ("credited", 25_000)
    assert await available(db, user_account(ALICE), "DOGE") == 25_000
    moves, _n = await db.read(ledger.history, user_account(ALICE))
    assert moves[0].code == offers.CODE
    # the same postback again: success, nothing moves
    again = await deliver(db, wall, completion(wall, ALICE, units=25), settings_of=trusting)
    assert again.status == "replay"
    assert await available(db, user_account(ALICE), "DOGE") == 25_000


async def test_low_trust_or_large_credit_is_held_then_released_once(db):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    now = utcnow()
    out = await deliver(db, wall, completion(wall, ALICE), now=now)  # new user: low trust
    assert out.status == "held"
    assert await available(db, user_account(ALICE), "DOGE") == 0
    mine = await db.read(offers.my_offers, ALICE)
    assert [(h.amount, h.release_at > now) for h in mine.held] == [(250_000, True)]
    assert await db.write(offers.release_due, s_of, now=now) == 0  # not yet
    later = now + timedelta(days=8)
    assert await db.write(offers.release_due, s_of, now=later) == 1
    assert await db.write(offers.release_due, s_of, now=later) == 0  # run twice: pays once
    assert await available(db, user_account(ALICE), "DOGE") == 250_000
    assert (await db.read(offers.trust_of, ALICE)).released == 1


async def test_release_killed_in_the_middle_pays_once(db):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    now = utcnow()
    for i in range(3):
        await deliver(db, wall, completion(wall, ALICE, txid=f"T{i}"), now=now)

    def release_then_die(conn):
        offers.release_due(conn, s_of, now=now + timedelta(days=8))
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        await db.write(release_then_die)
    assert await available(db, user_account(ALICE), "DOGE") == 0  # nothing of it was kept
    results = await asyncio.gather(
        *(db.write(offers.release_due, s_of, now=now + timedelta(days=8)) for _ in range(4))
    )
    assert sum(results) == 3
    assert await available(db, user_account(ALICE), "DOGE") == 3 * 250_000


async def test_reversal_voids_a_held_credit(db):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    await deliver(db, wall, completion(wall, ALICE))
    out = await deliver(db, wall, completion(wall, ALICE, reversal=True))
    assert out.status == "voided"
    assert await db.write(offers.release_due, s_of, now=utcnow() + timedelta(days=30)) == 0
    assert await available(db, user_account(ALICE), "DOGE") == 0
    assert (await db.read(offers.trust_of, ALICE)).reversed == 1
    assert (await deliver(db, wall, completion(wall, ALICE, reversal=True))).status == "replay"


async def test_reversal_of_spent_credit_leaves_a_debt_repaid_first_from_next_earnings(db):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    await deliver(db, wall, completion(wall, ALICE, txid="A"), settings_of=trusting)
    # Alice spends most of it
    await db.write(
        ledger.transfer,
        debit=user_account(ALICE),
        credit=user_account(BOB),
        asset="DOGE",
        amount=200_000,
        code="admin_debit",
        key="spend",
    )
    out = await deliver(db, wall, completion(wall, ALICE, txid="A", reversal=True), settings_of=trusting)
    assert out.status == "reversed"
    assert await available(db, user_account(ALICE), "DOGE") == 0  # never negative
    owed = await db.read(debts.owed, ALICE)
    assert [(d.asset, d.creditor, d.amount) for d in owed] == [("DOGE", OFFER_POOL, 200_000)]
    # The next offer credit repays the debt first
    await deliver(db, wall, completion(wall, ALICE, txid="B", units=100), settings_of=trusting)
    assert await available(db, user_account(ALICE), "DOGE") == 0
    assert [d.amount for d in await db.read(debts.owed, ALICE)] == [100_000]
    # and so does a faucet claim (core.earn.faucet calls debts.repay_debts)
    await fund(db, FAUCET_POOL, 10**9, asset="DOGE", key="faucet")

    s = faucet.Settings(reward=150_000, interval=3600)
    ch = await db.write(faucet.new_challenge, ALICE, "DOGE", s)
    got = await db.write(faucet.answer_challenge, ALICE, ch.id, ch.options.index(ch.target), lambda a: s)
    assert got.status == "paid"
    assert await db.read(debts.owed, ALICE) == []
    assert await available(db, user_account(ALICE), "DOGE") == 50_000


async def test_reversal_before_its_credit_refuses_the_credit(db):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    out = await deliver(db, wall, completion(wall, ALICE, reversal=True))
    assert out.status == "preempted"
    with pytest.raises(offers.OfferRefused) as e:
        await deliver(db, wall, completion(wall, ALICE))
    assert e.value.reason == "reversed_before"
    assert await available(db, user_account(ALICE), "DOGE") == 0


@pytest.mark.parametrize("change", [dict(units=999), dict(user=BOB)], ids=["other amount", "other user"])
async def test_replayed_txid_with_other_fields_is_refused(db, change):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    await open_for(db, BOB)
    await deliver(db, wall, completion(wall, ALICE), settings_of=trusting)
    with pytest.raises(offers.OfferRefused) as e:
        await deliver(db, wall, completion(wall, change.get("user", ALICE), units=change.get("units", 250)))
    assert e.value.reason == "replay_mismatch"
    assert await available(db, user_account(BOB), "DOGE") == 0
    assert await available(db, user_account(ALICE), "DOGE") == 250_000


async def test_refusals_move_nothing(db):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    with pytest.raises(offers.OfferRefused, match="unknown_sub"):
        await deliver(db, wall, postbacks.Completion("cpx", "T", "nobody", 10**8, False))
    tiny = postbacks.Completion("cpx", "T", offers.sub_id_for(KEY, wall.id, ALICE), 1, False)
    with pytest.raises(offers.OfferRefused, match="bad_amount"):  # rounds down to nothing
        await deliver(db, wall, tiny)
    await db.write(offers.set_ips, ADMIN, "w", "10.0.0.0/8,::1")
    with pytest.raises(offers.OfferRefused, match="ip_refused"):
        await deliver(db, wall, completion(wall, ALICE), ip="1.2.3.4")
    assert (await deliver(db, wall, completion(wall, ALICE), ip="10.1.2.3")).status == "held"
    await db.write(offers.set_enabled, ADMIN, "w", False)
    with pytest.raises(offers.OfferRefused, match="wall_off"):
        await deliver(db, wall, completion(wall, ALICE, txid="T2"), ip="10.1.2.3")
    await db.write(offers.remove_wall, ADMIN, "w")
    with pytest.raises(offers.OfferRefused, match="unknown_wall"):
        await deliver(db, wall, completion(wall, ALICE, txid="T3"), ip="10.1.2.3")


async def test_empty_pool_keeps_nothing(db):
    wall = await setup_wall(db, pool=0)
    await open_for(db, ALICE)
    with pytest.raises(offers.OfferPoolDry):
        await deliver(db, wall, completion(wall, ALICE))
    assert await db.read(lambda c: c.execute(select(func.count()).select_from(offer_credits)).scalar()) == 0


async def test_hundred_concurrent_deliveries_credit_once(db):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    outs = await asyncio.gather(
        *(deliver(db, wall, completion(wall, ALICE), settings_of=trusting) for _ in range(100)),
        return_exceptions=True,
    )
    statuses = [o.status for o in outs if not isinstance(o, BaseException)]
    assert statuses.count("credited") == 1 and statuses.count("replay") == 99, outs[:3]
    assert await available(db, user_account(ALICE), "DOGE") == 250_000


async def test_reversal_racing_its_release_ends_in_one_state(db):
    wall = await setup_wall(db)
    await open_for(db, ALICE)
    now = utcnow()
    for i in range(10):
        await deliver(db, wall, completion(wall, ALICE, txid=f"R{i}"), now=now)
    later = now + timedelta(days=8)
    jobs = [db.write(offers.release_due, s_of, now=later)]
    jobs += [
        deliver(db, wall, completion(wall, ALICE, txid=f"R{i}", reversal=True), now=later) for i in range(10)
    ]
    await asyncio.gather(*jobs)
    rows = await db.read(lambda c: c.execute(select(offer_credits.c.state)).scalars().all())
    assert sorted(set(rows)) <= ["reversed", "voided"] and len(rows) == 10
    # whatever won, the user keeps nothing of reversed offers (no debt: nothing was spent)
    assert await available(db, user_account(ALICE), "DOGE") == 0
    assert await db.read(debts.owed, ALICE) == []


async def test_referrer_paid_on_release_and_taken_back_on_reversal(db):
    wall = await setup_wall(db)
    await fund(db, MARKETING, 10**9, asset="DOGE", key="mkt")
    await db.write(referrals.bind_referrer, ALICE, referrals.invite_code(BOB))
    await db.write(referrals.activate, ALICE)
    await open_for(db, ALICE)
    now = utcnow()
    await deliver(db, wall, completion(wall, ALICE), now=now)
    assert await available(db, user_account(BOB), "DOGE") == 0  # never on held money
    await db.write(offers.release_due, s_of, now=now + timedelta(days=8))
    commission = 25_000  # 10% of 250,000; the platform's cut (25%) allows it
    assert await available(db, user_account(BOB), "DOGE") == commission
    await deliver(db, wall, completion(wall, ALICE, reversal=True))
    assert await available(db, user_account(BOB), "DOGE") == 0
    assert await available(db, user_account(ALICE), "DOGE") == 0


async def test_trust_rises_with_releases_and_falls_with_reversals(db):
    wall = await setup_wall(db, hold_above="1000")
    await open_for(db, ALICE)
    now = utcnow()
    for i in range(3):
        await deliver(db, wall, completion(wall, ALICE, txid=f"H{i}"), now=now)
    await db.write(offers.release_due, s_of, now=now + timedelta(days=8))
    assert (await deliver(db, wall, completion(wall, ALICE, txid="N"))).status == "credited"  # trusted now
    await deliver(db, wall, completion(wall, ALICE, txid="N", reversal=True))
    t = await db.read(offers.trust_of, ALICE)
    assert (t.released, t.reversed, t.score) == (3, 1, -2)  # the reversed one no longer counts as released
    assert (await deliver(db, wall, completion(wall, ALICE, txid="M"))).status == "held"


async def deliver_request(db, wall, request):
    done = postbacks.read(wall.network, request, SECRET)
    return await deliver(db, wall, done, settings_of=trusting)


@pytest.mark.parametrize("network", postbacks.NETWORKS)
async def test_random_mutations_of_a_delivered_postback_credit_nothing(db, network):
    """10,000 mutations in all (1,430 per network) after the original was credited."""
    wall = await setup_wall(db, network)
    await db.write(offers.set_hold, ADMIN, "w", "100000")
    # sub id 'abc' is what tests.core.earn.test_postbacks signs: give it to Alice
    from core.earn.tables import offer_subs

    await db.write(
        lambda c: c.execute(offer_subs.insert().values(wall_id=wall.id, user_id=ALICE, sub_id="abc"))
    )
    assert (await deliver_request(db, wall, signed(network))).status == "credited"
    rng = random.Random(f"db-{network}")
    for _ in range(1430):
        try:
            out = await deliver_request(db, wall, _mutate(rng, signed(network)))
        except (postbacks.PostbackRefused, offers.OfferRefused):
            continue
        # cpx, lootably, torox and timewall do not sign the status or the amount's sign: a
        # captured postback can be turned into its reversal (never into a credit)
        assert out.status in ("replay", "reversed", "voided"), out
    assert await available(db, user_account(ALICE), "DOGE") <= 250_000
    assert await available(db, user_account(BOB), "DOGE") == 0
    assert await db.read(lambda c: c.execute(select(func.count()).select_from(offer_credits)).scalar()) == 1


async def test_a_debt_is_repaid_from_ad_views_site_payments_and_referral_commission(db):
    """Every earning path repays what a reversal left owed, in the earning's asset, before the
    user can spend it: an ad view, a faucet-site payment, and a referral commission."""
    from tests.core.earn import ads_world
    from tests.core.earn import test_sites as site_world

    owed = 1_000_000
    for uid in (ALICE, BOB):
        await db.write(upsert_user, id=uid, username=f"u{uid}", first_name="U", language_code="en")
        await db.write(debts.add_debt, uid, "BTC", OFFER_POOL, owed)

    # an ad view pays Bob 100: it all goes to his debt
    running = await ads_world.campaign(db, 501)
    await ads_world.visit(db, BOB, running)
    assert (await ads_world.claim(db, BOB, running)).status == "paid"
    assert await available(db, user_account(BOB), "BTC") == 0
    assert [d.amount for d in await db.read(debts.owed, BOB)] == [owed - 100]

    # a faucet site pays Alice 10 (she gave it her address): it all goes to her debt
    await db.write(site_world.payout_links.link, ALICE, "BTC", site_world.ADDR)
    site, _key = await site_world.make_site(db)
    await site_world.pay(db, site, amount=10, now=utcnow())
    assert await available(db, user_account(ALICE), "BTC") == 0
    assert [d.amount for d in await db.read(debts.owed, ALICE)] == [owed - 10]

    # a referral commission to Alice repays her debt too, once, even when replayed
    await fund(db, MARKETING, 10**6, asset="BTC", key="mkt")
    for _ in range(2):
        got = await db.write(
            referrals.pay_commission_to,
            ALICE,
            source=referrals.Source.FAUCET,
            user_id=BOB,
            asset="BTC",
            earned=1_000,
            platform_cut=1_000,
            source_key="claim-1",
            share_bp=1_000,
        )
    assert got == 0  # the replay moved nothing
    assert await available(db, user_account(ALICE), "BTC") == 0
    assert [d.amount for d in await db.read(debts.owed, ALICE)] == [owed - 10 - 100]
    assert await available(db, OFFER_POOL, "BTC") == 100 + 10 + 100
