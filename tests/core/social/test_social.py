"""core.social on a real database: sends, tips, checks; the races of issue 17 with real concurrency."""

import asyncio
from datetime import timedelta

import pytest

from core.errors import InsufficientFunds, UnknownUser
from core.identity.users import record_start, upsert_user
from core.money import ledger
from core.money.accounts import user_account
from core.platform.schema import utcnow
from core.social import checks, sends, tips
from tests.money import available, fund

ALICE, BOB, CAROL = 101, 102, 103
POLICY = sends.Policy(minimum=100, twofa_over=10**9, max_failures=10)
CHECKS = checks.Policy(minimum=100, max_activations=1000, password_tries=3, password_window=3600)


async def person(db, uid, name=None, started=True):
    await db.write(upsert_user, id=uid, username=name, first_name=(name or "u").title(), language_code="en")
    if started:
        await db.write(record_start, uid, None)


@pytest.fixture
async def alice(db):
    await person(db, ALICE, "alice")
    await fund(db, user_account(ALICE), 1_000_000, "DOGE", key="alice")
    return ALICE


async def test_send_quote_then_twenty_concurrent_confirms_pay_once(db, alice):
    await person(db, BOB, "bob")
    s = await db.write(sends.quote_send, ALICE, "@Bob", "DOGE", 5000, POLICY)
    assert s.recipient.id == BOB and s.state == "draft"
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000  # a quote moves nothing

    results = await asyncio.gather(
        *(
            db.write(
                sends.confirm_send, ALICE, s.id, code=None, secret_key="k" * 40, policy_of=lambda a: POLICY
            )
            for _ in range(20)
        )
    )
    assert sum(not r.replayed for r in results) == 1
    assert await available(db, user_account(BOB), "DOGE") == 5000
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000 - 5000


@pytest.mark.parametrize(
    ("ref", "value", "reason"),
    [
        ("@alice", 5000, "send_self"),
        (str(ALICE), 5000, "send_self"),
        ("@nobody", 5000, "unknown_user"),
        ("99999", 5000, "unknown_user"),
        ("@some_bot", 5000, "send_bot"),
        ("@bob", 99, "send_below_min"),
        ("@bob", 2_000_000, "insufficient_funds"),
    ],
)
async def test_send_refusals_move_nothing(db, alice, ref, value, reason):
    await person(db, BOB, "bob")
    with pytest.raises((sends.SendError, UnknownUser, InsufficientFunds)) as err:
        await db.write(sends.quote_send, ALICE, ref, "DOGE", value, POLICY)
    assert err.value.reason == reason
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000


async def test_someone_else_cannot_confirm_or_cancel_a_quote(db, alice):
    await person(db, BOB, "bob")
    s = await db.write(sends.quote_send, ALICE, "@bob", "DOGE", 5000, POLICY)
    for use_case in (
        lambda c: sends.confirm_send(c, BOB, s.id, code=None, secret_key="k", policy_of=lambda a: POLICY),
        lambda c: sends.cancel_send(c, BOB, s.id),
    ):
        with pytest.raises(sends.SendError, match="send_not_found"):
            await db.write(use_case)
    await db.write(sends.cancel_send, ALICE, s.id)
    with pytest.raises(sends.SendError, match="send_cancelled"):
        await db.write(sends.confirm_send, ALICE, s.id, code=None, secret_key="k", policy_of=lambda a: POLICY)
    assert await available(db, user_account(BOB), "DOGE") == 0


async def test_tip_to_someone_who_never_started_is_held_then_claimed_once(db, alice):
    t = await db.write(tips.tip, ALICE, BOB, -100, 7, "DOGE", 3000, POLICY)
    assert t.state == "held"
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000 - 3000
    assert await available(db, user_account(BOB), "DOGE") == 0  # held, not yet Bob's
    again = await db.write(tips.tip, ALICE, BOB, -100, 7, "DOGE", 3000, POLICY)
    assert again.replayed and again.id == t.id
    with pytest.raises(tips.SendError, match="tip_unknown"):
        await db.write(tips.claim_tip, CAROL, t.code)  # a forwarded link is not Carol's
    got = await asyncio.gather(*(db.write(tips.claim_tip, BOB, t.code) for _ in range(10)))
    assert sum(not g.replayed for g in got) == 1
    assert await available(db, user_account(BOB), "DOGE") == 3000
    assert await db.write(tips.return_unclaimed, 0, utcnow() + timedelta(days=1)) == []


async def test_unclaimed_tip_returns_to_sender_after_the_days(db, alice):
    t = await db.write(tips.tip, ALICE, BOB, -100, 8, "DOGE", 3000, POLICY)
    assert await db.write(tips.return_unclaimed, 7, utcnow() + timedelta(days=6)) == []
    back = await db.write(tips.return_unclaimed, 7, utcnow() + timedelta(days=8))
    assert [b.id for b in back] == [t.id]
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000
    with pytest.raises(tips.SendError, match="tip_returned"):
        await db.write(tips.claim_tip, BOB, t.code)


async def test_tip_to_a_started_user_is_paid_at_once_and_refusals(db, alice):
    await person(db, BOB, "bob")
    t = await db.write(tips.tip, ALICE, BOB, -100, 9, "DOGE", 3000, POLICY)
    assert t.state == "paid" and await available(db, user_account(BOB), "DOGE") == 3000
    for args, kw, reason in [
        ((ALICE, ALICE, -100, 10, "DOGE", 3000, POLICY), {}, "send_self"),
        ((ALICE, 555, -100, 11, "DOGE", 3000, POLICY), {"recipient_is_bot": True}, "send_bot"),
        ((ALICE, BOB, -100, 12, "DOGE", 99, POLICY), {}, "send_below_min"),
        ((ALICE, BOB, -100, 13, "DOGE", 10**8, POLICY), {}, "insufficient_funds"),
    ]:
        with pytest.raises((tips.SendError, InsufficientFunds)) as err:
            await db.write(tips.tip, *args, **kw)
        assert err.value.reason == reason


async def test_two_hundred_users_race_for_fifty_activations(db, alice):
    c = await db.write(checks.create_check, ALICE, "DOGE", 1000, 50, CHECKS)
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000 - 50_000
    users = list(range(5000, 5200))
    for uid in users:
        await person(db, uid)

    async def claim(uid):
        try:
            return await db.write(checks.claim_check, uid, c.code, CHECKS)
        except checks.CheckError as err:
            return err.reason

    results = await asyncio.gather(*(claim(u) for u in users))
    paid = [r for r in results if isinstance(r, checks.Claimed)]
    assert len(paid) == 50 and set(r for r in results if isinstance(r, str)) == {"check_exhausted"}
    assert await available(db, checks.escrow(c.id), "DOGE") == 0
    assert sum([await available(db, user_account(u), "DOGE") for u in users]) == 50_000


async def test_revoke_racing_claims_leaves_every_unit_accounted_for(db, alice):
    c = await db.write(checks.create_check, ALICE, "DOGE", 1000, 100, CHECKS)
    users = list(range(6000, 6080))
    for uid in users:
        await person(db, uid)

    async def claim(uid):
        try:
            await db.write(checks.claim_check, uid, c.code, CHECKS)
        except checks.CheckError:
            pass

    async def revoke():
        await asyncio.sleep(0.005)
        return await db.write(checks.revoke_check, ALICE, c.id)

    *_, (closed, left) = await asyncio.gather(*(claim(u) for u in users), revoke())
    claimed = sum([await available(db, user_account(u), "DOGE") for u in users])
    assert closed.state == "revoked" and claimed == closed.used * 1000
    assert claimed + left == 100_000
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000 - claimed
    assert await available(db, checks.escrow(c.id), "DOGE") == 0
    with pytest.raises(checks.CheckError, match="check_revoked"):
        await db.write(checks.claim_check, 7777, c.code, CHECKS)


async def test_claim_refusals(db, alice):
    await person(db, BOB, "bob")
    c = await db.write(checks.create_check, ALICE, "DOGE", 1000, 2, CHECKS, password="sesame")
    for uid, code, kw, reason in [
        (BOB, "A" * 16, {}, "check_unknown"),
        (BOB, "short", {}, "check_unknown"),
        (ALICE, c.code, {"password": "sesame"}, "check_own"),
        (BOB, c.code, {}, "check_password_needed"),
    ]:
        with pytest.raises(checks.CheckError) as err:
            await db.write(checks.claim_check, uid, code, CHECKS, **kw)
        assert err.value.reason == reason
    for _ in range(3):  # wrong passwords are counted although the claim is undone
        with pytest.raises(checks.CheckError, match="check_wrong_password"):
            await db.write(checks.claim_check, BOB, c.code, CHECKS, password="guess")
    with pytest.raises(checks.CheckError, match="check_locked"):
        await db.write(checks.claim_check, BOB, c.code, CHECKS, password="sesame")
    await person(db, CAROL, "carol")
    await db.write(checks.claim_check, CAROL, c.code, CHECKS, password="sesame")
    with pytest.raises(checks.CheckError, match="check_claimed"):
        await db.write(checks.claim_check, CAROL, c.code, CHECKS, password="sesame")
    assert await available(db, user_account(CAROL), "DOGE") == 1000


async def test_new_users_only_channel_and_expiry(db, alice):
    await person(db, BOB, "bob")  # started before the check was made
    c = await db.write(checks.create_check, ALICE, "DOGE", 1000, 3, CHECKS)
    await db.write(checks.configure, ALICE, c.id, new_users_only=True)
    with pytest.raises(checks.CheckError, match="check_new_only"):
        await db.write(checks.claim_check, BOB, c.code, CHECKS)
    await person(db, CAROL, "carol")  # first /start after the check
    await db.write(checks.claim_check, CAROL, c.code, CHECKS)
    await db.write(checks.configure, ALICE, c.id, new_users_only=False, channel="@dustnews")
    with pytest.raises(checks.CheckError, match="check_members_only"):
        await db.write(checks.claim_check, BOB, c.code, CHECKS, member=False)
    await db.write(checks.claim_check, BOB, c.code, CHECKS, member=True)
    with pytest.raises(checks.CheckError, match="check_unknown"):
        await db.write(checks.configure, BOB, c.id, expires_in=3600)  # not Bob's check
    with pytest.raises(checks.CheckError, match="check_bad_expiry"):
        await db.write(checks.configure, ALICE, c.id, expires_in=123)
    await db.write(checks.configure, ALICE, c.id, expires_in=3600)
    assert await db.write(checks.expire_checks, utcnow()) == []
    [(gone, left)] = await db.write(checks.expire_checks, utcnow() + timedelta(hours=2))
    assert gone.state == "expired" and left == 1000
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000 - 2000
    with pytest.raises(checks.CheckError, match="check_expired"):
        await db.write(checks.claim_check, 9999, c.code, CHECKS)


async def test_create_refusals_and_inline_idempotency(db, alice):
    for args, reason in [
        ((ALICE, "DOGE", 1000, 0, CHECKS), "check_too_many"),
        ((ALICE, "DOGE", 1000, 1001, CHECKS), "check_too_many"),
        ((ALICE, "DOGE", 99, 1, CHECKS), "send_below_min"),
        ((ALICE, "DOGE", 600_000, 2, CHECKS), "insufficient_funds"),
    ]:
        with pytest.raises((checks.CheckError, sends.SendError, InsufficientFunds)) as err:
            await db.write(checks.create_check, *args)
        assert err.value.reason == reason
    made = await asyncio.gather(
        *(
            db.write(checks.create_check, ALICE, "DOGE", 1000, 5, CHECKS, inline_message_id="AAQ-1")
            for _ in range(5)
        )
    )
    assert len({m.id for m in made}) == 1
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000 - 5000


async def test_start_through_a_check_link_binds_the_creator_as_referrer(db, alice):
    from core.earn import referrals

    c = await db.write(checks.create_check, ALICE, "DOGE", 1000, 1, CHECKS)
    await db.write(upsert_user, id=BOB, username="bob", first_name="Bob", language_code="en")
    got = await db.write(checks.start_and_claim, BOB, c.code, CHECKS)
    assert isinstance(got, checks.Claimed)
    assert (await db.read(referrals.stats, ALICE)).invited == 1
    again = await db.write(checks.start_and_claim, BOB, c.code, CHECKS)
    assert isinstance(again, checks.CheckError) and again.reason == "check_claimed"
    assert (await db.read(ledger.balance, user_account(BOB), "DOGE")).available == 1000
