"""/offers and /offerwall through the production dispatcher."""

from __future__ import annotations

from datetime import timedelta

from core.earn import offers, postbacks
from core.money.accounts import OFFER_POOL, user_account
from core.platform import audit
from core.platform.params import Params
from core.platform.schema import utcnow
from tests.core.earn.test_postbacks import SECRET
from tests.handlers.cashout.test_cashout import enable_2fa
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts
from tests.money import available, fund

ALICE, BOB = 111, 222


def wall_buttons(sent):
    return [(t, u) for s in sent for t, u in s.buttons() if u and u.startswith("https://")]


async def test_admin_adds_a_wall_and_user_opens_it_with_an_opaque_sub_id(tg, db):
    admin, alice = tg.person(ADMIN, username="root"), tg.person(ALICE)
    await admin.send("/start")
    sent = await admin.send(f"/offerwall add cpx cpx 12345 {SECRET} DOGE 0.00001")
    assert any(s.method == "deleteMessage" for s in sent)  # the message with the secret is gone
    out = texts(sent)
    assert "cpx" in out and "/postback/cpx" in out and SECRET not in out
    assert all(SECRET not in str(a.details) for a in await db.read(audit.recent, 10))
    listed = texts(await admin.send("/offerwall list"))
    assert "1 point = 0.00001 DOGE" in listed and SECRET not in listed

    await alice.send("/start")
    buttons = wall_buttons(await alice.send("/offers"))
    assert len(buttons) == 1 and buttons[0][1].startswith(
        "https://offers.cpx-research.com/index.php?app_id=12345"
    )
    sub = buttons[0][1].split("ext_user_id=")[1]
    assert str(ALICE) not in sub and len(sub) == 24
    assert wall_buttons(await alice.send("/offers"))[0][1].endswith(sub)  # stable
    # the menu button opens the same view
    await alice.send("/start")
    assert wall_buttons(await alice.tap_button("Offers"))[0][1].endswith(sub)


async def test_admin_subcommands_and_bad_input(tg, db):
    admin = tg.person(ADMIN, username="root")
    await admin.send("/start")
    await admin.send(f"/offerwall add bitlabs bl tok {SECRET} BTC 0.00000001")
    assert "Unknown network" in texts(await admin.send(f"/offerwall add nope x 1 {SECRET} BTC 1"))
    assert "exists already" in texts(await admin.send(f"/offerwall add cpx bl 1 {SECRET} BTC 1"))
    assert "positive number" in texts(await admin.send(f"/offerwall add cpx c2 1 {SECRET} BTC abc"))
    assert "no wall named" in texts(await admin.send("/offerwall off nowall"))
    assert "off" in texts(await admin.send("/offerwall off bl"))
    assert "IPs 1.2.3.4/32" in texts(await admin.send("/offerwall ips bl 1.2.3.4"))
    assert "separated by commas" in texts(await admin.send("/offerwall ips bl 1.2.3.999"))
    assert "hold above 0.00010000 BTC" in texts(await admin.send("/offerwall hold bl 0.0001"))
    assert "plain amount" in texts(await admin.send("/offerwall hold bl lots"))
    assert "Usage" in texts(await admin.send("/offerwall"))
    assert "removed" in texts(await admin.send("/offerwall remove bl"))
    assert "No walls yet" in texts(await admin.send("/offerwall list"))
    assert "Offer trust of 9001: 0" in texts(await admin.send("/offerwall trust 9001"))


async def test_non_admin_gets_an_unknown_command(tg, db):
    bob = tg.person(BOB)
    await bob.send("/start")
    out = texts(await bob.send(f"/offerwall add cpx x 1 {SECRET} BTC 1"))
    assert "Wall added" not in out
    assert await db.read(offers.list_walls) == []


async def test_code_prompt_never_echoes_the_secret(tg, db):
    admin = tg.person(ADMIN, username="root")
    await admin.send("/start")
    await enable_2fa(db, ADMIN)
    out = texts(await admin.send(f"/offerwall add cpx w 1 {SECRET} DOGE 0.1"))
    assert "6-digit code" in out and SECRET not in out and "•••" in out


async def test_user_sees_held_offers_debts_and_history(tg, db):
    admin, alice = tg.person(ADMIN, username="root"), tg.person(ALICE)
    await admin.send("/start")
    await alice.send("/start")
    await admin.send(f"/offerwall add cpx cpx 1 {SECRET} DOGE 0.00001")
    await alice.send("/offers")
    await fund(db, OFFER_POOL, 10**9, asset="DOGE", key="pool")
    wall = (await db.read(offers.list_walls))[0]
    sub = offers.sub_id_for("k" * 40, wall.id, ALICE)
    s_of = lambda a: offers.settings_for(Params(env={}), a)  # noqa: E731
    done = postbacks.Completion("cpx", "T1", sub, 250 * 10**8, False)
    await db.write(offers.record_postback, wall.id, done, ip=None, settings_of=s_of)
    out = texts(await alice.send("/offers"))
    assert "Held: 0.00250000 DOGE from cpx until" in out
    await db.write(offers.release_due, s_of, now=utcnow() + timedelta(days=8))
    assert "0.00250000 DOGE" in texts(await alice.send("/history")) and "Offer completed" in texts(
        await alice.send("/history")
    )
    assert await available(db, user_account(ALICE), "DOGE") == 250_000


async def test_credits_holds_and_reversals_are_notified_in_one_batched_notice(tg, db):
    import json

    from sqlalchemy import select

    from core.platform.notices import notices as notice_rows
    from handlers.common.i18n import get_i18n
    from handlers.common.notices import render
    from jobs.offers import release

    admin, alice = tg.person(ADMIN, username="root"), tg.person(ALICE)
    await admin.send("/start")
    await alice.send("/start")
    await admin.send(f"/offerwall add cpx cpx 1 {SECRET} DOGE 0.00001")
    await alice.send("/offers")
    await fund(db, OFFER_POOL, 10**9, asset="DOGE", key="pool")
    wall = (await db.read(offers.list_walls))[0]
    sub = offers.sub_id_for("k" * 40, wall.id, ALICE)
    s_of = lambda a: offers.settings_for(Params(env={}), a)  # noqa: E731
    for tx in ("A", "B", "C"):
        done = postbacks.Completion("cpx", tx, sub, 100 * 10**8, False)
        await db.write(offers.record_postback, wall.id, done, ip=None, settings_of=s_of)
    back = postbacks.Completion("cpx", "C", sub, 100 * 10**8, True)
    await db.write(offers.record_postback, wall.id, back, ip=None, settings_of=s_of)

    async def alice_notices():
        q = select(notice_rows.c.params).where(notice_rows.c.chat_id == ALICE).order_by(notice_rows.c.id)
        return [json.loads(p) for p in await db.read(lambda c: c.execute(q).scalars().all())]

    assert await alice_notices() == []  # nothing until the job runs
    await release(db, Params(env={}))
    await release(db, Params(env={}))  # a second run tells nothing twice
    assert await alice_notices() == [{"held": {"DOGE": 200_000}, "reversed": {"DOGE": 100_000}}]
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale("en"):
        text = render(offers.NOTICE, (await alice_notices())[0])
    assert "On hold: 0.00200000 DOGE" in text and "Reversed by the network: 0.00100000 DOGE" in text


async def test_offers_in_a_group_only_links_to_the_private_chat(tg, db):
    from tests.handlers.chats import send_in_group

    admin, alice = tg.person(ADMIN, username="root"), tg.person(ALICE)
    await admin.send("/start")
    await alice.send("/start")
    await admin.send(f"/offerwall add cpx cpx 1 {SECRET} DOGE 0.00001")
    sent = await send_in_group(alice, "/offers")
    assert "private chat" in texts(sent)
    assert not [u for _t, u in wall_buttons(sent) if "cpx-research" in u]
