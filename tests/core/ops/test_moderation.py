"""Moderation on a real database (SQLite, and PostgreSQL with TEST_DATABASE_URL): the one standing
check in every use case that moves a user's money, a ban in the middle of a withdrawal, a crash
round and a faucet claim, faucet-site payments and offer postbacks to a banned user, referral
commissions, and a ban racing a withdrawal request. The db fixture checks the books after each."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from core.cashout import withdrawals
from core.earn import ads, faucet, offers, referrals, sites
from core.exchange import swaps
from core.identity import standing
from core.identity.users import upsert_user
from core.loyalty import boosts, daily, points, staking
from core.money import ledger
from core.money.accounts import FAUCET_POOL, MARKETING, user_account
from core.ops import moderation
from core.platform.params import Params
from core.platform.schema import utcnow
from core.play import crash, crash_queue, games
from core.social import checks, sends, tips
from tests.core.cashout.test_withdrawals import BTC_ADDR, policy
from tests.core.earn import test_offers as offer_world
from tests.core.earn import test_sites as site_world
from tests.core.play.test_crash import KEY, find_round, join
from tests.money import available, fund
from tests.play import setup_money

ADMIN, ALICE, BOB = 9001, 111, 222
ADMINS = frozenset({ADMIN})

# Every use case that earns, plays, swaps, sends or withdraws, and how it checks the standing.
CHECKED = [
    faucet.new_challenge,
    faucet.answer_challenge,
    ads.begin_claim,
    ads.answer_claim,
    daily.check_in,
    points.convert,
    boosts.buy,
    staking.stake,
    staking.unstake,
    games.place_bet,
    crash.join,  # crash_queue.join_queued makes queued bets through it
    crash_queue.join_or_queue,
    swaps.quote_swap,
    swaps.quote_sweep,
    swaps.confirm_quote,
    sends.quote_send,
    sends.confirm_send,
    tips.tip,
    checks.create_check,
    checks.claim_check,
    withdrawals.request_withdrawal,
    withdrawals.confirm_withdrawal,
]
# Paid to a user by someone else: refused (site API, offers), voided (held join) or skipped (commission).
BANNED_ONLY = [sites.send, offers.record_postback, ads.settle_join, referrals.pay_commission_to]
SET_BASED = [daily.pay_bonus, staking.weights]  # paid to many at once: banned users left out


@pytest.mark.parametrize("fn", CHECKED, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_money_use_case_calls_the_one_standing_check(fn):
    assert "standing.require(conn," in inspect.getsource(fn)


@pytest.mark.parametrize("fn", BANNED_ONLY, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_payments_from_others_check_for_a_ban(fn):
    source = inspect.getsource(fn)
    assert "standing.is_banned(conn," in source or "standing.require(conn," in source


@pytest.mark.parametrize("fn", SET_BASED, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_set_based_payouts_leave_banned_users_out(fn):
    assert "standing.BANNED_IDS" in inspect.getsource(fn)


async def test_a_banned_staker_gets_no_share(db):
    await users(db, ADMIN, ALICE, BOB)
    now = utcnow()
    await fund(db, user_account(ALICE), 10**8, asset="DUST", key="a")
    await fund(db, user_account(BOB), 10**8, asset="DUST", key="b")
    await db.write(staking.stake, ALICE, 10**6, key="a", now=now)
    await db.write(staking.stake, BOB, 10**6, key="b", now=now)
    epoch = staking.day_of(now)
    assert set(await db.read(staking.weights, epoch)) == {ALICE, BOB}
    await ban(db)
    assert set(await db.read(staking.weights, epoch)) == {BOB}


async def users(db, *ids):
    for uid in ids:
        await db.write(upsert_user, id=uid, username=f"u{uid}", first_name="U", language_code="en")


async def ban(db, uid=ALICE, reason="multi-accounting"):
    return await db.write(moderation.ban, ADMIN, str(uid), reason, admin_ids=ADMINS)


# --- the core refusals --------------------------------------------------------------------------


async def test_refusals_change_nothing(db):
    await users(db, ADMIN, ALICE)
    for call, reason in [
        (lambda c: moderation.ban(c, ADMIN, str(ADMIN), "x", admin_ids=ADMINS), "cannot_restrict_self"),
        (lambda c: moderation.ban(c, 7, str(ADMIN), "x", admin_ids={7, ADMIN}), "cannot_restrict_admin"),
        (lambda c: moderation.ban(c, ADMIN, "111", "   ", admin_ids=ADMINS), "reason_needed"),
        (lambda c: moderation.ban(c, ADMIN, "424242", "x", admin_ids=ADMINS), "unknown_user"),
        (lambda c: moderation.unban(c, ADMIN, "111", admin_ids=ADMINS), "not_banned"),
        (lambda c: moderation.unfreeze(c, ADMIN, "111", admin_ids=ADMINS), "not_frozen"),
        (lambda c: moderation.appeal(c, ALICE, "hello", admin_ids=ADMINS), "not_restricted"),
    ]:
        with pytest.raises(Exception) as e:
            await db.write(call)
        assert getattr(e.value, "reason", None) == reason
    assert not (await db.read(standing.standing_of, ALICE)).restricted
    from core.platform import audit

    assert await db.read(audit.recent, 10) == []


async def test_standing_of_a_stranger_is_good_and_frozen_allows_earning(db):
    await users(db, ADMIN, ALICE)
    assert await db.read(standing.standing_of, 424242) == standing.GOOD
    await db.write(moderation.freeze, ADMIN, "111", admin_ids=ADMINS)
    await db.read(standing.require, ALICE, standing.EARN)
    await db.read(standing.require, ALICE, standing.PLAY)
    for activity in (standing.SEND, standing.WITHDRAW):
        with pytest.raises(standing.Restricted) as e:
            await db.read(standing.require, ALICE, activity)
        assert e.value.reason == "withdrawals_frozen"


# --- a ban in the middle of a withdrawal, a game, a faucet claim ----------------------------------


async def test_a_ban_holds_withdrawals_in_flight_and_leaves_a_batched_one_alone(db):
    await users(db, ADMIN, ALICE)
    await fund(db, user_account(ALICE), 1_000_000, key="a")

    async def withdrawal(auto):
        w = await db.write(withdrawals.request_withdrawal, ALICE, "BTC", 100_000, BTC_ADDR, policy(auto=auto))
        return await db.write(
            withdrawals.confirm_withdrawal,
            ALICE,
            w.id,
            code=None,
            secret_key="k" * 40,
            policy_of=lambda a: policy(auto=auto),
        )

    approved, requested, batched = await withdrawal(10**8), await withdrawal(0), await withdrawal(10**8)
    assert (approved.state, requested.state) == ("approved", "requested")
    from core.cashout import payouts

    # the third goes into a batch first, as if the payout job had taken it
    await db.write(
        lambda c: c.execute(
            withdrawals.withdrawals.update()
            .where(withdrawals.withdrawals.c.id == batched.id)
            .values(state="batched", batch_id=99)
        )
    )
    before = await db.read(ledger.balances, user_account(ALICE))
    done = await ban(db)
    assert done.held == (approved.id, requested.id)
    states = {w.id: w.state for w in await db.read(withdrawals.list_for_user, ALICE)}
    assert states == {approved.id: "requested", requested.id: "requested", batched.id: "batched"}
    assert await db.read(ledger.balances, user_account(ALICE)) == before  # all three still reserved
    assert await db.write(payouts.form_batches, {"BTC": "manual"}, 10) == []  # the job finds nothing to send
    await db.write(moderation.unban, ADMIN, "111", admin_ids=ADMINS)
    assert {w.state for w in await db.read(withdrawals.list_for_user, ALICE) if w.id != batched.id} == {
        "requested"
    }
    await db.write(withdrawals.reject, ADMIN, approved.id)
    assert await available(db, user_account(ALICE)) == 1_000_000 - 200_000  # one came back; two still held


async def test_a_crash_bet_placed_before_the_ban_settles_new_bets_are_refused(db):
    await users(db, ADMIN, ALICE)
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {ALICE: 100_000})
    rnd = await find_round(db, chains, now, lambda cp: cp >= 150)
    bet, _ = await join(db, ALICE, now, auto=120)
    await ban(db)
    with pytest.raises(standing.Restricted) as e:
        await join(db, ALICE, now, idem="after the ban")
    assert e.value.reason == "banned"
    await db.write(crash.start_round, rnd.id, now=now)
    settled = await db.write(crash.crash_round, rnd.id, "ab" * 32, now=rnd.bust_at())
    mine = next(b for b in settled if b.id == bet.id)
    assert mine.status == "won" and mine.payout == 12_000  # the placed bet settled as usual
    assert (await db.read(ledger.balance, user_account(ALICE), "DOGE")).available == 102_000


async def test_a_queued_crash_bet_of_a_banned_user_is_refused_when_the_round_opens(db):
    await users(db, ADMIN, ALICE)
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {ALICE: 100_000})
    rnd = await find_round(db, chains, now, lambda cp: cp >= 150)
    await db.write(crash.start_round, rnd.id, now=now)  # betting closed: the next join queues
    from tests.play import RULES

    await db.write(
        crash_queue.join_or_queue,
        user_id=ALICE,
        asset="DOGE",
        amount=10_000,
        auto_cashout=None,
        rules=RULES,
        idem="q1",
        chat_id=ALICE,
        locale="en",
        now=now,
    )
    await ban(db)
    await db.write(crash.crash_round, rnd.id, "ab" * 32, now=rnd.bust_at())
    await db.write(crash.open_round, chains, betting_seconds=10, now=rnd.bust_at())
    opened = await db.write(crash_queue.join_queued, lambda a: RULES, now=rnd.bust_at())
    assert [o.refusal.reason for o in opened if o.refusal is not None] == ["banned"]
    assert (await db.read(ledger.balance, user_account(ALICE), "DOGE")).available == 100_000


async def test_a_captcha_answered_after_the_ban_pays_nothing(db):
    await users(db, ADMIN, ALICE)
    await fund(db, FAUCET_POOL, 100_000)
    s = faucet.settings_for(Params(env={}), "BTC")
    ch = await db.write(faucet.new_challenge, ALICE, "BTC", s)
    await ban(db)
    with pytest.raises(standing.Restricted):
        await db.write(faucet.answer_challenge, ALICE, ch.id, ch.target, lambda a: s)
    assert await available(db, user_account(ALICE)) == 0
    assert await available(db, FAUCET_POOL) == 100_000


# --- money from others: faucet sites, offerwalls, referral commissions ----------------------------


async def test_a_faucet_site_cannot_pay_a_banned_user(db):
    site, _key = await site_world.make_site(db)
    await site_world.make_user(db)
    await users(db, ADMIN)
    await ban(db)
    with pytest.raises(standing.Restricted) as e:
        await site_world.pay(db, site)
    assert e.value.reason == "banned"  # the HTTP API answers FaucetPay's 456 (handlers.earn.api)
    assert await available(db, user_account(ALICE)) == 0


async def test_an_offer_postback_for_a_banned_user_is_refused(db):
    wall = await offer_world.setup_wall(db)
    await offer_world.open_for(db, ALICE)
    await users(db, ADMIN)
    await ban(db)
    with pytest.raises(offers.OfferRefused) as e:
        await offer_world.deliver(
            db, wall, offer_world.completion(wall, ALICE, units=25), settings_of=offer_world.trusting
        )
    assert e.value.reason == "banned"
    assert await available(db, user_account(ALICE), "DOGE") == 0


async def test_a_banned_referrer_earns_no_commission(db):
    await users(db, ADMIN, ALICE, BOB)
    await db.write(referrals.bind_referrer, BOB, referrals.invite_code(ALICE))
    await db.write(referrals.activate, BOB)
    await fund(db, MARKETING, 10**6, key="m")
    await ban(db)
    paid = await db.write(
        referrals.pay_commission_to,
        ALICE,
        source=referrals.Source.FAUCET,
        user_id=BOB,
        asset="BTC",
        earned=1000,
        platform_cut=1000,
        source_key="faucet:x",
        share_bp=1000,
    )
    assert paid == 0 and await available(db, user_account(ALICE)) == 0


# --- appeals ------------------------------------------------------------------------------------


async def test_appeal_once_an_hour_reaches_every_admin(db):
    from datetime import timedelta

    await users(db, ADMIN, ALICE)
    await ban(db)
    now = utcnow()
    admins = frozenset({ADMIN, 9002})
    assert await db.write(moderation.appeal, ALICE, " it  was my brother ", admin_ids=admins, now=now) == 2
    with pytest.raises(moderation.ModerationError) as e:
        await db.write(moderation.appeal, ALICE, "again", admin_ids=admins, now=now + timedelta(minutes=59))
    assert e.value.reason == "appeal_too_soon" and 0 < e.value.params["seconds"] <= 60
    assert (
        await db.write(moderation.appeal, ALICE, "again", admin_ids=admins, now=now + timedelta(hours=1)) == 2
    )


# --- a ban racing a withdrawal request ------------------------------------------------------------


async def test_a_ban_racing_withdrawal_confirmations_never_leaves_an_unheld_withdrawal(db):
    n = 12
    ids = [1000 + i for i in range(n)]
    await users(db, ADMIN, *ids)
    for uid in ids:
        await fund(db, user_account(uid), 1_000_000, key=f"u{uid}")
    drafts = [
        await db.write(withdrawals.request_withdrawal, uid, "BTC", 100_000, BTC_ADDR, policy(auto=10**8))
        for uid in ids
    ]

    async def confirm(w):
        try:
            return await db.write(
                withdrawals.confirm_withdrawal,
                w.user_id,
                w.id,
                code=None,
                secret_key="k" * 40,
                policy_of=lambda a: policy(auto=10**8),
            )
        except standing.Restricted:
            return None

    await asyncio.gather(
        *(confirm(w) for w in drafts),
        *(db.write(moderation.ban, ADMIN, str(uid), "race", admin_ids=ADMINS) for uid in ids),
    )
    for uid in ids:
        assert (await db.read(standing.standing_of, uid)).banned
        for w in await db.read(withdrawals.list_for_user, uid):
            assert w.state == "requested", (uid, w.state)  # held, never approved
    total = sum([await available(db, user_account(uid)) for uid in ids])
    held = sum([(await db.read(ledger.balance, user_account(uid), "BTC")).held for uid in ids])
    assert total + held == n * 1_000_000  # no unit lost
