"""/check, /checks, claim links and inline mode through the real dispatcher."""

import re
from datetime import UTC, datetime

import pytest
from aiogram.types import ChosenInlineResult, InlineQuery, Update

from core.earn import referrals
from core.money.accounts import user_account
from core.social import checks
from handlers.social import inline
from tests.handlers.harness import BOT_ID, texts
from tests.money import available, fund

ALICE, BOB, CAROL, DAVE = 301, 302, 303, 304
KEY = "k" * 40  # the tests' SECRET_KEY (tests/handlers/conftest.py)


@pytest.fixture
async def alice(tg, db):
    p = tg.person(ALICE, first_name="Alice", username="alice")
    await p.send("/start")
    await fund(db, user_account(ALICE), 10_000_000_000, "DOGE", key="alice")
    return p


async def doge(db, uid):
    return await available(db, user_account(uid), "DOGE")


def link_of(text: str) -> str:
    return re.search(r"start=(c[A-Za-z0-9_-]{16})", text).group(1)


async def make(tg, alice, command="/check 0.5 DOGE 2"):
    out = texts(await alice.send(command))
    return out, link_of(out)


async def test_check_made_claimed_by_new_users_who_become_referrals(tg, db, alice):
    out, payload = await make(tg, alice)
    assert "0.50000000 DOGE × 2" in out and await doge(db, ALICE) == 10_000_000_000 - 100_000_000
    assert "own check" in texts(await alice.send(f"/start {payload}"))
    bob = tg.person(BOB, first_name="Bob", username="bob")
    assert "You claimed 0.50000000 DOGE" in texts(await bob.send(f"/start {payload}"))
    assert "already claimed" in texts(await bob.send(f"/start {payload}"))
    carol = tg.person(CAROL, first_name="Carol", username="carol")
    await carol.send(f"/start {payload}")
    dave = tg.person(DAVE, first_name="Dave", username="dave")
    assert "fully claimed" in texts(await dave.send(f"/start {payload}"))
    assert [await doge(db, u) for u in (BOB, CAROL, DAVE)] == [50_000_000, 50_000_000, 0]
    assert (await db.read(referrals.stats, ALICE)).invited == 3  # every newcomer through the link
    assert "People invited: 3" in texts(await alice.send("/refer"))


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/check", "Usage: /check AMOUNT ASSET"),
        ("/check 1", "Usage: /check AMOUNT ASSET"),
        ("/check 0 DOGE", "greater than zero"),
        ("/check -1 DOGE", "must be positive"),
        ("/check 0.000000001 DOGE", "at most 8 decimal places"),
        ("/check 1 DOGE many", "Usage: /check"),
        ("/check 1 DOGE 0", "from 1 to 1000 activations"),
        ("/check 1 DOGE 5000", "from 1 to 1000 activations"),
        ("/check 60 DOGE 2", "Not enough DOGE"),
        ("/check 0.001 DOGE", "The least you can send"),
        ("/check 1 DOGE 1 " + "x" * 65, "A password is 1 to 64 characters"),
    ],
)
async def test_check_bad_input_moves_nothing(tg, db, alice, command, answer):
    out = texts(await alice.send(command))
    assert answer in out, out
    assert await doge(db, ALICE) == 10_000_000_000


@pytest.mark.parametrize(
    ("payload", "answer"),
    [("cAAAAAAAAAAAAAAAA", "does not exist"), ("c" + "-" * 16, "does not exist")],
)
async def test_unknown_check_codes(tg, db, payload, answer):
    bob = tg.person(BOB)
    assert answer in texts(await bob.send(f"/start {payload}"))


async def test_password_check_counts_wrong_passwords_and_locks(tg, db, alice):
    _, payload = await make(tg, alice, "/check 0.5 DOGE 1 sesame")
    bob = tg.person(BOB, first_name="Bob", username="bob")
    assert "protected by a password" in texts(await bob.send(f"/start {payload}"))
    assert "Wrong password" in texts(await bob.send("guess"))
    for _ in range(4):  # check.password_tries is 5
        await bob.send(f"/start {payload}")
        await bob.send("guess")
    assert "Too many wrong passwords" in texts(await bob.send(f"/start {payload}"))
    carol = tg.person(CAROL)
    await carol.send(f"/start {payload}")
    assert "You claimed" in texts(await carol.send("sesame"))
    assert await doge(db, BOB) == 0 and await doge(db, CAROL) == 50_000_000


async def test_revoke_returns_the_rest_and_closes_the_link(tg, db, alice):
    _, payload = await make(tg, alice, "/check 0.5 DOGE 4")
    await tg.person(BOB).send(f"/start {payload}")
    out = texts(await alice.send("/checks"))
    assert "claimed 1/4" in out
    # a forged revoke of Alice's check by Carol
    data = next(d for label, d in tg.last_with_buttons(ALICE).buttons() if "Revoke" in label)
    carol = tg.person(CAROL)
    await carol.send("/start")
    refused = await carol.tap(data)
    assert any("does not exist" in (s.params.get("text") or "") for s in refused)
    assert "1.50000000 DOGE is back" in texts(await alice.tap(data))
    assert await doge(db, ALICE) == 10_000_000_000 - 50_000_000
    assert "revoked" in texts(await carol.send(f"/start {payload}"))
    assert "revoked" in texts(await alice.send("/checks"))


async def test_options_new_users_only_expiry_and_channel(tg, db, alice):
    bob = tg.person(BOB, first_name="Bob")
    await bob.send("/start")  # Bob was here before the check
    _, payload = await make(tg, alice, "/check 0.5 DOGE 3")
    out = texts(await alice.tap_button("New users only"))
    assert "New users only: on" in out
    assert "new Dustpan users only" in texts(await bob.send(f"/start {payload}"))
    await alice.tap_button("New users only")  # off again
    await alice.tap_button("Expiry")
    out = texts(await alice.tap_button("1 day"))
    assert "Expires: 20" in out
    await alice.tap_button("Channel")
    assert "Make me an admin of @dustnews" in texts(await alice.send("@dustnews"))
    await alice.tap_button("Channel")
    assert "Write the channel as @name" in texts(await alice.send("dust news"))
    tg.session.chat_members[("@dustnews", BOT_ID)] = "administrator"
    await alice.tap_button("Channel")
    assert "Members of a channel only: @dustnews" in texts(await alice.send("@dustnews"))
    assert "only for members of @dustnews" in texts(await bob.send(f"/start {payload}"))
    tg.session.chat_members[("@dustnews", BOB)] = "member"
    assert "You claimed" in texts(await bob.send(f"/start {payload}"))


def inline_query(tg, person, text) -> Update:
    q = InlineQuery(id=str(tg.next_update_id()), from_user=person.user, query=text, offset="")
    return Update(update_id=tg.next_update_id(), inline_query=q)


def chosen(tg, person, result_id, message_id="inl-1", query="") -> Update:
    c = ChosenInlineResult(
        result_id=result_id, from_user=person.user, query=query, inline_message_id=message_id
    )
    return Update(update_id=tg.next_update_id(), chosen_inline_result=c)


async def test_inline_offer_made_into_a_check_only_when_chosen(tg, db, alice):
    [answer] = await tg.feed(inline_query(tg, alice, "0.001 DOGE"))
    assert answer.method == "answerInlineQuery" and answer.params["is_personal"] is True
    [result] = answer.params["results"]
    assert "Send a check for 0.00100000 DOGE" in result["title"]
    assert await doge(db, ALICE) == 10_000_000_000  # offered, not reserved
    [multi] = (await tg.feed(inline_query(tg, alice, "0.01 DOGE 5")))[0].params["results"]
    assert "5 × 0.01000000 DOGE" in multi["title"]
    [edit] = await tg.feed(chosen(tg, alice, multi["id"], "inl-7"))
    assert edit.method == "editMessageText" and edit.params["inline_message_id"] == "inl-7"
    url = edit.markup.inline_keyboard[0][0].url
    assert url.startswith("https://t.me/dustpan_test_bot?start=c")
    assert await doge(db, ALICE) == 10_000_000_000 - 5_000_000
    await tg.feed(chosen(tg, alice, multi["id"], "inl-7"))  # delivered again: one check
    assert await doge(db, ALICE) == 10_000_000_000 - 5_000_000
    bob = tg.person(BOB)
    assert "You claimed 0.01000000 DOGE" in texts(await bob.send(f"/start {url.split('=')[1]}"))


async def test_inline_forged_result_ids_make_nothing(tg, db, alice):
    forged = [
        "k.100000000.DOGE.5.0000000000000000",
        inline.result_id("wrong-key", ALICE, 1000, "DOGE", 1),
        inline.result_id(KEY, BOB, 1000, "DOGE", 1),  # signed for Bob, chosen by Alice
        "k.1.2.3",
        "x" * 60,
    ]
    for n, rid in enumerate(forged):
        out = await tg.feed(chosen(tg, alice, rid, f"inl-f{n}"))
        assert "not valid" in out[0].params["text"]
    assert await doge(db, ALICE) == 10_000_000_000
    assert await db.read(checks.by_inline_message, "inl-f1") is None


async def test_inline_empty_query_offers_invite_and_balance_and_no_funds_opens_the_bot(tg, db, alice):
    [answer] = await tg.feed(inline_query(tg, alice, ""))
    titles = [r["title"] for r in answer.params["results"]]
    assert titles == ["Invite friends to Dustpan", "Your balance"]
    assert "100.00000000 DOGE" in answer.params["results"][1]["description"]
    assert (
        referrals.invite_code(ALICE) in answer.params["results"][0]["input_message_content"]["message_text"]
    )
    bob = tg.person(BOB)
    [poor] = await tg.feed(inline_query(tg, bob, "1 DOGE"))
    assert "Not enough DOGE" in poor.params["results"][0]["title"]
    assert poor.params["button"]["start_parameter"] == "inline"
    [bad] = await tg.feed(inline_query(tg, bob, "lots of DOGE"))
    assert "Type an amount" in bad.params["results"][0]["title"]
    [cached] = await tg.feed(inline_query(tg, alice, ""))  # within inline.cache_seconds: same answer
    assert cached.params["results"] == answer.params["results"]


async def test_inline_chosen_without_funds_says_so(tg, db):
    bob = tg.person(BOB)
    rid = inline.result_id(KEY, BOB, 100_000_000, "DOGE", 1)
    [edit] = await tg.feed(chosen(tg, bob, rid, "inl-poor"))
    assert "No check was made: Not enough DOGE" in edit.params["text"]
    assert datetime.now(UTC)  # nothing else moved: the books are checked after the test


async def test_expired_check_link_is_refused_and_the_job_gives_the_rest_back(tg, db, alice):
    from datetime import timedelta

    from sqlalchemy import update

    from core.platform.params import Params
    from core.platform.schema import utcnow
    from core.social.tables import social_checks
    from jobs import social

    _, payload = await make(tg, alice, "/check 0.5 DOGE 2")
    past = utcnow() - timedelta(minutes=1)
    await db.write(lambda c: c.execute(update(social_checks).values(expires_at=past)))
    bob = tg.person(BOB)
    assert "has expired" in texts(await bob.send(f"/start {payload}"))
    assert await social.run(db, Params(env={})) == (1, 0)
    assert await doge(db, ALICE) == 10_000_000_000 and await doge(db, BOB) == 0
    assert "expired" in texts(await alice.send("/checks"))


async def test_send_and_check_in_a_group_only_open_the_private_chat(tg, db, alice):
    from tests.handlers.chats import send_in_group

    for command in ("/send 1 DOGE @bob", "/check 1 DOGE", "/checks"):
        out = await send_in_group(alice, command)
        assert "only in our private chat" in texts(out)
    assert await doge(db, ALICE) == 10_000_000_000


async def test_admin_sees_check_escrows_summed_per_coin(tg, db, alice):
    from tests.handlers.conftest import ADMIN

    for command in ("/check 0.5 DOGE 2", "/check 0.25 DOGE 4", "/check 0.1 DOGE"):
        await alice.send(command)
    admin = tg.person(ADMIN, first_name="Root", username="root")
    await admin.send("/start")
    out = texts(await admin.send("/admin"))
    assert "check_escrow: 2.10000000 DOGE" in out, out


async def test_menu_button_lists_checks_and_help_names_the_commands(tg, db, alice):
    assert "no checks yet" in texts(await alice.tap("m:checks", tg.last_with_buttons(ALICE)))
    await alice.send("/check 0.5 DOGE 2")
    await alice.send("/start")
    out = texts(await alice.tap("m:checks"))
    assert "claimed 0/2" in out
    helped = texts(await alice.send("/help"))
    assert all(f"/{c} —" in helped for c in ("send", "tip", "check", "checks"))
