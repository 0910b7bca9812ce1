"""Faucet claims and referral commissions on a real database, with races."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.earn import faucet, referrals
from core.identity.users import upsert_user
from core.money.accounts import FAUCET_POOL, MARKETING, user_account
from core.platform import notices
from tests.money import available, fund

S = faucet.Settings(reward=100, interval=3600, retry_wait=5, challenge_ttl=600, commission_bp=1000)
T0 = datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)


async def make_user(db, uid, username=None):
    await db.write(upsert_user, id=uid, username=username, first_name=f"U{uid}", language_code="en")


async def solve(db, uid, asset="BTC", now=T0, s=S):
    ch = await db.write(faucet.new_challenge, uid, asset, s, now=now)
    assert isinstance(ch, faucet.Challenge)
    return ch, ch.options.index(ch.target)


async def test_correct_answer_pays_once_per_window(db):
    await fund(db, FAUCET_POOL, 10_000)
    ch, right = await solve(db, 1)
    out = await db.write(faucet.answer_challenge, 1, ch.id, right, lambda a: S, now=T0)
    assert out.status == "paid" and out.amount == 100
    assert out.wait_seconds == 3600 - 5
    assert await available(db, user_account(1)) == 100
    with pytest.raises(faucet.FaucetError) as err:
        await db.write(faucet.new_challenge, 1, "BTC", S, now=T0 + timedelta(minutes=10))
    assert err.value.reason == "faucet_cooldown" and err.value.params["seconds"] == 3600 - 5 - 600
    ch2, right2 = await solve(db, 1, now=T0 + timedelta(hours=1))
    out2 = await db.write(
        faucet.answer_challenge, 1, ch2.id, right2, lambda a: S, now=T0 + timedelta(hours=1)
    )
    assert out2.status == "paid"
    assert await available(db, user_account(1)) == 200


async def test_wrong_answer_uses_challenge_and_waits(db):
    await fund(db, FAUCET_POOL, 10_000)
    ch, right = await solve(db, 1)
    out = await db.write(faucet.answer_challenge, 1, ch.id, (right + 1) % 6, lambda a: S, now=T0)
    assert out.status == "wrong" and out.wait_seconds == 5
    for reason, args in (
        ("challenge_used", (1, ch.id, right)),  # one answer per challenge
        ("challenge_unknown", (2, ch.id, right)),  # someone else's
        ("challenge_unknown", (1, 99999, 0)),  # forged id
    ):
        with pytest.raises(faucet.FaucetError) as err:
            await db.write(faucet.answer_challenge, *args, lambda a: S, now=T0)
        assert err.value.reason == reason
    with pytest.raises(faucet.FaucetError) as err:
        await db.write(faucet.new_challenge, 1, "BTC", S, now=T0 + timedelta(seconds=2))
    assert err.value.reason == "captcha_wait"
    await solve(db, 1, now=T0 + timedelta(seconds=6))
    assert await available(db, user_account(1)) == 0


async def test_stale_challenge_and_asset_without_faucet(db):
    await fund(db, FAUCET_POOL, 10_000)
    ch, right = await solve(db, 1)
    with pytest.raises(faucet.FaucetError) as err:
        await db.write(faucet.answer_challenge, 1, ch.id, right, lambda a: S, now=T0 + timedelta(hours=2))
    assert err.value.reason == "challenge_expired"
    off = faucet.Settings(reward=0, interval=3600)
    with pytest.raises(faucet.FaucetError) as err:
        await db.write(faucet.new_challenge, 1, "USDT", off, now=T0)
    assert err.value.reason == "faucet_off"
    assert await available(db, user_account(1)) == 0


async def test_dry_pool_pays_nothing_and_tells_admins_once_per_spell(db):
    await fund(db, FAUCET_POOL, 150)
    ch, right = await solve(db, 1)
    ch2, right2 = await solve(db, 2)
    assert (
        await db.write(faucet.answer_challenge, 1, ch.id, right, lambda a: S, admin_ids=(7,), now=T0)
    ).status == "paid"
    out = await db.write(faucet.answer_challenge, 2, ch2.id, right2, lambda a: S, admin_ids=(7,), now=T0)
    assert out.status == "dry"
    assert await available(db, user_account(2)) == 0 and await available(db, FAUCET_POOL) == 50
    again = await db.write(faucet.new_challenge, 3, "BTC", S, admin_ids=(7,), now=T0)
    assert isinstance(again, faucet.Outcome) and again.status == "dry"
    assert await db.read(notices.pending_count) == 1  # once per dry spell
    await fund(db, FAUCET_POOL, 10, key="refill")  # a new spell starts with a refill...
    await db.write(faucet.new_challenge, 3, "BTC", S, admin_ids=(7,), now=T0)
    assert await db.read(notices.pending_count) == 2


async def test_fifty_concurrent_claims_in_one_window_pay_once(db):
    """Fifty puzzles opened (two devices, many taps) and all answered at once: one payment."""
    await fund(db, FAUCET_POOL, 1_000_000)
    solved = [await solve(db, 1, now=T0) for _ in range(50)]
    outs = await asyncio.gather(
        *(db.write(faucet.answer_challenge, 1, ch.id, right, lambda a: S, now=T0) for ch, right in solved),
        return_exceptions=True,
    )
    paid = [o for o in outs if isinstance(o, faucet.Outcome) and o.status == "paid"]
    assert len(paid) == 1, outs
    assert outs[-1] is paid[0]  # the newest puzzle is the live one
    assert all(isinstance(o, faucet.FaucetError) and o.reason == "challenge_replaced" for o in outs[:-1])
    assert await available(db, user_account(1)) == 100


async def test_stacked_puzzles_cannot_dodge_the_wait_after_a_wrong_answer(db):
    await fund(db, FAUCET_POOL, 10_000)
    (old, old_right), (new, new_right) = await solve(db, 1), await solve(db, 1)
    out = await db.write(faucet.answer_challenge, 1, new.id, (new_right + 1) % 6, lambda a: S, now=T0)
    assert out.status == "wrong"
    with pytest.raises(faucet.FaucetError) as err:  # the older puzzle was retired when the new one came
        await db.write(faucet.answer_challenge, 1, old.id, old_right, lambda a: S, now=T0)
    assert err.value.reason == "challenge_replaced"
    with pytest.raises(faucet.FaucetError) as err:
        await db.write(faucet.new_challenge, 1, "BTC", S, now=T0 + timedelta(seconds=1))
    assert err.value.reason == "captcha_wait"
    assert await available(db, user_account(1)) == 0


async def test_fifty_concurrent_answers_to_one_challenge_pay_once(db):
    await fund(db, FAUCET_POOL, 1_000_000)
    ch, right = await solve(db, 1)
    outs = await asyncio.gather(
        *(db.write(faucet.answer_challenge, 1, ch.id, right, lambda a: S, now=T0) for _ in range(50)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, faucet.Outcome) and o.status == "paid" for o in outs) == 1
    assert all(isinstance(o, faucet.Outcome) or o.reason == "challenge_used" for o in outs), outs
    assert await available(db, user_account(1)) == 100


async def test_referral_chain_commission(db):
    await fund(db, FAUCET_POOL, 10_000)
    await fund(db, MARKETING, 10_000, key="m")
    for uid in (1, 2):
        await make_user(db, uid)
    assert await db.write(referrals.record_start, 2, referrals.invite_code(1)) is True
    assert await db.write(referrals.bind_referrer, 2, referrals.invite_code(1)) is None  # no re-binding
    ch, right = await solve(db, 2)
    out = await db.write(faucet.answer_challenge, 2, ch.id, right, lambda a: S, now=T0)
    assert out.status == "paid" and out.amount == 100 and out.commission == 10
    assert await available(db, user_account(2)) == 100  # the friend's reward is never reduced
    assert await available(db, user_account(1)) == 10
    assert await available(db, MARKETING) == 9_990
    st = await db.read(referrals.stats, 1)
    assert (st.invited, st.active, st.earned) == (1, 1, {"BTC": 10})


async def test_commission_skipped_when_marketing_is_empty(db):
    await fund(db, FAUCET_POOL, 10_000)
    for uid in (1, 2):
        await make_user(db, uid)
    await db.write(referrals.record_start, 2, referrals.invite_code(1))
    ch, right = await solve(db, 2)
    out = await db.write(faucet.answer_challenge, 2, ch.id, right, lambda a: S, now=T0)
    assert out.status == "paid" and out.commission == 0
    assert await available(db, user_account(2)) == 100 and await available(db, user_account(1)) == 0
    from core.platform import audit

    assert [a.action for a in await db.read(audit.recent, 5)] == ["referral_skipped"]


@pytest.mark.parametrize(
    "payload",
    ["", "r", "rZZ", "r0", "x123", "r" + "z" * 20, "r-1", "r12 3", "rabc!"],
)
async def test_malformed_or_unknown_codes_are_ignored(db, payload):
    await make_user(db, 2)
    assert await db.write(referrals.bind_referrer, 2, payload) is None


async def test_no_self_referral_and_no_cycles(db):
    for uid in (1, 2, 3):
        await make_user(db, uid)
    assert await db.write(referrals.bind_referrer, 1, referrals.invite_code(1)) is None
    assert await db.write(referrals.bind_referrer, 2, referrals.invite_code(1)) == 1
    assert await db.write(referrals.bind_referrer, 3, referrals.invite_code(2)) == 3 - 1
    assert await db.write(referrals.bind_referrer, 1, referrals.invite_code(3)) is None  # 3 -> 2 -> 1 -> 3
    assert await db.write(referrals.bind_referrer, 2, referrals.invite_code(3)) is None  # bound already
    assert referrals.parse_code(referrals.invite_code(123456789)) == 123456789


async def test_settings_are_built_once_per_load_and_follow_a_stored_change(db):
    """settings_for is memoised (a claim reads it twice), but never past a change: an admin's
    store is in force at once, another instance's at the next load."""
    from core.platform.params import Params

    params = Params(env={})
    first = faucet.settings_for(params, "BTC")
    assert faucet.settings_for(params, "BTC") is first
    await params.store(db, "faucet.reward.BTC", "0.00000200", admin_id=1)
    stored = faucet.settings_for(params, "BTC")
    assert stored.reward == 200 and stored is not first
    other = Params(env={})
    assert faucet.settings_for(other, "BTC").reward == 100  # not loaded yet: the default
    await other.refresh(db, force=True)
    assert faucet.settings_for(other, "BTC").reward == 200
