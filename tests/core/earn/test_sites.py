"""Faucet sites on a real database: notices of their payments, payments to strangers,
and owners taking escrow out or removing a site (with races against the API)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot

from core.earn import payout_links
from core.earn import sites as faucet_sites
from core.errors import DomainError
from core.identity.users import upsert_user
from core.money import ledger
from core.money.accounts import user_account
from core.platform import audit, notices
from core.platform.db import Database
from core.platform.params import Params
from jobs.notify import NoticeSender
from tests.conftest import PG_URL
from tests.handlers.harness import BOT_TOKEN, RecordingSession
from tests.money import available, fund

T0 = datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)
OWNER, ALICE, BOB = 500, 111, 222
ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
SPAM = "FREE_0.5_BTC_claim_now_at_t.me/spam"


async def make_site(db, name="Drip", escrow=100_000, owner=OWNER):
    await db.write(upsert_user, id=owner, username=f"owner{owner}", first_name="O", language_code="en")
    site, key = await db.write(
        faucet_sites.add_site,
        owner_id=owner,
        name=name,
        url="https://drip.example",
        asset="BTC",
        reward=10,
        timer=60,
    )
    if escrow:
        await fund(db, user_account(owner), escrow, key=f"o{site.id}")
        await db.write(faucet_sites.fund_site, owner, site.id, escrow, key=f"f{site.id}")
    return site, key


async def make_user(db, uid=ALICE, username="alice", link=ADDR):
    await db.write(upsert_user, id=uid, username=username, first_name="A", language_code="en")
    if link:
        await db.write(payout_links.link, uid, "BTC", link)


async def pay(db, site, to=ADDR, amount=10, now=T0, **kw):
    return await db.write(faucet_sites.send, site, to=to, amount=amount, now=now, **kw)


async def deliver(db) -> list:
    """Run the real notice sender once, as if it were later that day; returns what users read."""
    import handlers.earn.sites  # noqa: F401 - registers how site notices read

    session = RecordingSession()

    async def sleep(_s):
        pass

    sender = NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={}), sleep=sleep)
    await db.write(_make_all_due)
    await sender.run_once()
    return [(s.chat_id, s.text) for s in session.sent]


def _make_all_due(conn):
    from sqlalchemy import update

    conn.execute(
        update(notices.notices)
        .where(notices.notices.c.sent_at.is_(None))
        .values(due_at=T0 - timedelta(days=9))
    )


# --- notices of site payments (issue 10, item 8) ---------------------------------------


async def test_site_notices_are_batched_per_user_and_day_and_never_below_the_minimum(db):
    spam, _ = await make_site(db, name=SPAM)
    other, _ = await make_site(db, name="Other", owner=OWNER + 1)
    await make_user(db)
    for _ in range(3):  # 3 x 30 satoshi: below the 100 minimum, no notice at all
        await pay(db, spam, amount=30, notice_min=100)
    assert await db.read(notices.pending_count) == 0
    await pay(db, other, amount=10, notice_min=100, now=T0 + timedelta(minutes=5))
    for i in range(5):  # reached: one notice, whatever more comes that day
        await pay(db, spam, amount=1, notice_min=100, now=T0 + timedelta(minutes=10 + i))
    assert await db.read(notices.pending_count) == 1
    [(chat, text)] = await deliver(db)
    assert chat == ALICE
    assert "+0.00000105 BTC" in text and "2026-11-30" in text and "payments: 9" in text and "sites: 2" in text
    assert "FREE" not in text and "t.me" not in text and "Other" not in text  # no owner text in our words
    await pay(db, spam, amount=500, notice_min=100, now=T0 + timedelta(hours=2))
    assert await db.read(notices.pending_count) == 0  # sent is sent: one notice per user and day
    await pay(db, spam, amount=500, notice_min=100, now=T0 + timedelta(days=1))
    [(_chat, text)] = await deliver(db)
    assert "+0.00000500 BTC" in text and "2026-12-01" in text


async def test_the_site_minimum_is_a_setting_per_asset(db):
    params = Params(env={"NOTICES_SITE_MIN_BTC": "0.00000050"})
    assert params.get("notices.site_min.BTC") == 50
    assert Params(env={}).get("notices.site_min.BTC") > 1  # a 1-satoshi payment never tells anyone
    site, _ = await make_site(db)
    await make_user(db)
    await pay(db, site, amount=1)  # the default minimum
    assert await db.read(notices.pending_count) == 0


# --- payments to users who never used the site -------------------------------------------


async def test_payments_to_users_who_never_used_the_site_are_limited_per_day(db):
    site, _ = await make_site(db)
    await make_user(db, link=None)
    await make_user(db, BOB, "bobby", link=None)
    for i in range(3):
        await pay(db, site, to="@alice" if i % 2 else "@bobby", stranger_daily=3)
    with pytest.raises(DomainError) as err:
        await pay(db, site, to="@alice", stranger_daily=3)
    assert err.value.reason == "api_stranger_limit" and err.value.params["limit"] == 3
    assert await available(db, user_account(ALICE)) + await available(db, user_account(BOB)) == 30
    await pay(db, site, to="@alice", stranger_daily=3, now=T0 + timedelta(days=1))  # a new day


async def test_a_user_who_gave_the_site_an_address_or_rated_it_has_used_it(db):
    site, _ = await make_site(db)
    await make_user(db)  # alice linked ADDR
    await make_user(db, BOB, "bobby", link=None)
    await pay(db, site, to=ADDR, stranger_daily=0)  # by her address: she gave it to the site
    await db.write(faucet_sites.rate_site, BOB, site.id, 5)  # bob rated it in /faucets
    for _ in range(5):
        await pay(db, site, to="@alice", stranger_daily=0)
        await pay(db, site, to="@bobby", stranger_daily=0)
    assert await available(db, user_account(ALICE)) == 60 and await available(db, user_account(BOB)) == 50
    carol = 333
    await make_user(db, carol, "carol", link=None)
    with pytest.raises(DomainError) as err:
        await pay(db, site, to="@carol", stranger_daily=0)
    assert err.value.reason == "api_stranger_limit"


async def test_a_replayed_payment_is_not_counted_twice(db):
    site, _ = await make_site(db)
    await make_user(db, link=None)
    for _ in range(3):
        sent = await pay(db, site, to="@alice", idempotency_key="k1", stranger_daily=1)
    assert sent.replayed and await available(db, user_account(ALICE)) == 10


# --- owners take escrow out, or remove the site (issue 10, item 14) -----------------------


async def test_withdraw_returns_escrow_but_never_what_a_pending_payment_holds(db):
    site, _ = await make_site(db, escrow=1_000)
    await make_user(db)
    # A payment on its way holds 300 of the escrow (two-phase): the owner cannot take that back.
    await db.write(
        ledger.reserve,
        debit=faucet_sites.escrow(site.id),
        credit=user_account(ALICE),
        asset="BTC",
        amount=300,
        code="faucet_api",
        key="held-payment",
    )
    with pytest.raises(DomainError) as err:
        await db.write(faucet_sites.withdraw_escrow, OWNER, site.id, 701, key="w1")
    assert err.value.reason == "site_escrow_short" and err.value.params["available"] == 700
    t = await db.write(faucet_sites.withdraw_escrow, OWNER, site.id, 700, key="w2")
    assert t.amount == 700 and await available(db, user_account(OWNER)) == 700
    again = await db.write(faucet_sites.withdraw_escrow, OWNER, site.id, 700, key="w2")  # a retried update
    assert again.replayed and await available(db, user_account(OWNER)) == 700
    assert (await db.read(ledger.balance, faucet_sites.escrow(site.id), "BTC")).held == 300
    for bad in (0, -5):
        with pytest.raises(DomainError):
            await db.write(faucet_sites.withdraw_escrow, OWNER, site.id, bad, key=f"bad{bad}")
    for who, sid in ((ALICE, site.id), (OWNER, 999)):  # someone else's site, an unknown one
        with pytest.raises(DomainError) as err:
            await db.write(faucet_sites.withdraw_escrow, who, sid, 1, key=f"x{who}{sid}")
        assert err.value.reason == "site_unknown"
    assert [a.action for a in await db.read(audit.recent, 5)] == ["site_withdraw"]


async def test_remove_retires_the_site_at_once_returns_the_rest_and_is_idempotent(db):
    site, key = await make_site(db, escrow=1_000)
    await make_user(db)
    await pay(db, site, amount=100)
    removed = await db.write(faucet_sites.remove_site, OWNER, site.id, key="rm1")
    assert removed.returned == 900 and removed.retired_now
    assert await available(db, user_account(OWNER)) == 900
    assert await available(db, faucet_sites.escrow(site.id)) == 0
    assert await db.read(faucet_sites.site_by_key, key) is None  # the API key is dead
    with pytest.raises(DomainError) as err:
        await pay(db, site, amount=1)  # even a Site read (and cached) before the removal
    assert err.value.reason == "site_retired"
    assert site.id not in [x.site.id for x in await db.read(faucet_sites.directory)]
    again = await db.write(faucet_sites.remove_site, OWNER, site.id, key="rm2")
    assert again.returned == 0 and not again.retired_now
    with pytest.raises(DomainError) as err:
        await db.write(faucet_sites.fund_site, OWNER, site.id, 10, key="f-after")
    assert err.value.reason == "site_retired"
    with pytest.raises(DomainError) as err:
        await db.write(faucet_sites.remove_site, ALICE, site.id, key="rm3")
    assert err.value.reason == "site_unknown"
    assert [a.action for a in await db.read(audit.recent, 5)] == ["site_remove"]
    # A removed site still counts against the owner's limit of sites: removing and adding
    # again must not give fresh daily limits (payments to strangers) without end.
    with pytest.raises(DomainError) as err:
        await db.write(
            faucet_sites.add_site,
            owner_id=OWNER,
            name="New",
            url="https://n.example",
            asset="BTC",
            reward=1,
            timer=60,
            max_sites=1,
        )
    assert err.value.reason == "site_limit"


async def racing_db(db, database_url):
    if not PG_URL:
        return db
    other = Database(database_url, writers=4)
    await other.start()
    return other


async def test_withdraw_races_api_sends_and_no_unit_is_lost_or_made(db, database_url):
    site, _ = await make_site(db, escrow=600)
    await make_user(db)
    racing = await racing_db(db, database_url)
    try:
        jobs = [racing.write(faucet_sites.send, site, to=ADDR, amount=10, now=T0) for _ in range(60)]
        jobs.insert(30, racing.write(faucet_sites.withdraw_escrow, OWNER, site.id, 300, key="race"))
        outs = await asyncio.gather(*jobs, return_exceptions=True)
    finally:
        if racing is not db:
            await racing.close()
    withdrew = outs.pop(30)
    paid = sum(isinstance(o, faucet_sites.Sent) for o in outs)
    assert all(isinstance(o, faucet_sites.Sent) or o.reason == "insufficient_funds" for o in outs), outs
    took = 300 if isinstance(withdrew, ledger.Transfer) else 0
    assert took or withdrew.reason == "site_escrow_short"
    assert await available(db, user_account(ALICE)) == paid * 10
    assert await available(db, user_account(OWNER)) == took
    assert await available(db, faucet_sites.escrow(site.id)) == 600 - paid * 10 - took
    assert paid * 10 + took <= 600 and (took == 300 or paid * 10 > 300)


async def test_remove_races_api_sends(db, database_url):
    site, _ = await make_site(db, escrow=600)
    await make_user(db)
    racing = await racing_db(db, database_url)
    try:
        jobs = [racing.write(faucet_sites.send, site, to=ADDR, amount=10, now=T0) for _ in range(40)]
        jobs.insert(20, racing.write(faucet_sites.remove_site, OWNER, site.id, key="race"))
        outs = await asyncio.gather(*jobs, return_exceptions=True)
    finally:
        if racing is not db:
            await racing.close()
    removed = outs.pop(20)
    paid = sum(isinstance(o, faucet_sites.Sent) for o in outs)
    assert all(
        isinstance(o, faucet_sites.Sent) or o.reason in ("site_retired", "insufficient_funds") for o in outs
    )
    assert await available(db, faucet_sites.escrow(site.id)) == 0
    assert removed.returned == 600 - paid * 10
    assert await available(db, user_account(OWNER)) + await available(db, user_account(ALICE)) == 600
