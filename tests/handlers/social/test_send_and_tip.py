"""/send and /tip through the real dispatcher: quotes, confirms, 2FA, groups, claim links, bad input."""

from datetime import UTC, datetime

import pytest
from aiogram.types import Message, MessageEntity, Update
from aiogram.types import User as TgUser
from sqlalchemy import select

from core.money.accounts import user_account
from core.platform.notices import notices
from core.social.tables import social_tips
from tests.handlers.cashout.test_cashout import enable_2fa
from tests.handlers.chats import GROUP, OTHER_BOT
from tests.handlers.harness import texts
from tests.money import available, fund

ALICE, BOB, CAROL = 201, 202, 203


@pytest.fixture
async def alice(tg, db):
    p = tg.person(ALICE, first_name="Alice", username="alice")
    await p.send("/start")
    await fund(db, user_account(ALICE), 10_000_000_000, "DOGE", key="alice")
    return p


@pytest.fixture
async def bob(tg, db):
    p = tg.person(BOB, first_name="Bob", username="bob")
    await p.send("/start")
    return p


async def doge(db, uid):
    return await available(db, user_account(uid), "DOGE")


async def test_send_quote_names_the_recipient_then_confirm_pays_once_and_tells_them(tg, db, alice, bob):
    out = texts(await alice.send("/send 0.5 DOGE @bob"))
    assert "Send <b>0.50000000 DOGE</b> to Bob (@bob)?" in out
    assert await doge(db, BOB) == 0
    quote = tg.last_with_buttons(ALICE)
    assert "Sent 0.50000000 DOGE to Bob (@bob)" in texts(await alice.tap_button("Confirm"))
    assert "already sent" in texts(await alice.tap(quote.buttons()[0][1], quote))
    assert await doge(db, BOB) == 50_000_000
    told = await db.read(lambda c: c.execute(select(notices).where(notices.c.chat_id == BOB)).all())
    assert [n.template for n in told] == ["social_received"]


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/send", "Usage: /send AMOUNT ASSET @username"),
        ("/send 1 DOGE", "Usage: /send AMOUNT ASSET @username"),
        ("/send 0 DOGE @bob", "greater than zero"),
        ("/send -1 DOGE @bob", "must be positive"),
        ("/send 0.000000001 DOGE @bob", "at most 8 decimal places"),
        ("/send 1e3 DOGE @bob", "not with an exponent"),
        ("/send 1000 DOGE @bob", "Not enough DOGE"),
        ("/send 0.001 DOGE @bob", "The least you can send is 0.01000000 DOGE"),
        ("/send 1 XYZ @bob", "Unknown coin"),
        ("/send 1 DOGE @nobody", "No user “@nobody” here"),
        ("/send 1 DOGE 99999999", "No user “99999999” here"),
        ("/send 1 DOGE @b<o>b!", "No user"),
        ("/send 1 DOGE @alice", "cannot send coins to yourself"),
        ("/send 1 DOGE @dustpan_test_bot", "Bots cannot receive coins"),
        ("/send 1 DOGE 123456", "Bots cannot receive coins"),
    ],
)
async def test_send_bad_input_is_explained_and_moves_nothing(tg, db, alice, bob, command, answer):
    out = texts(await alice.send(command))
    assert answer in out, out
    assert await doge(db, BOB) == 0 and await doge(db, ALICE) == 10_000_000_000


async def test_forged_confirm_of_someone_elses_quote_is_refused(tg, db, alice, bob):
    await alice.send("/send 1 DOGE @bob")
    data = tg.last_with_buttons(ALICE).buttons()[0][1]
    carol = tg.person(CAROL, first_name="Carol", username="carol")
    await carol.send("/start")
    out = await carol.tap(data)
    assert any("does not exist" in (s.params.get("text") or "") for s in out)
    assert await doge(db, BOB) == 0
    out = await alice.tap("sd:ok:99999999999999999999")  # past the id range: no handler, no money
    assert await doge(db, BOB) == 0


async def test_send_above_the_2fa_threshold_asks_for_the_code(tg, db, alice, bob):
    totp = await enable_2fa(db, ALICE)
    out = texts(await alice.send("/send 20 DOGE @bob"))  # send.twofa_over.DOGE is 10
    assert "2FA code will be needed" in out
    assert "6-digit code" in texts(await alice.tap_button("Confirm"))
    assert "wrong" in texts(await alice.send("000000"))
    assert await doge(db, BOB) == 0
    await alice.tap_button("Confirm")
    assert "Sent 20.00000000 DOGE" in texts(await alice.send(totp.now()))
    assert await doge(db, BOB) == 2_000_000_000
    # below the threshold no code is asked even with 2FA on
    await alice.send("/send 1 DOGE @bob")
    assert "Sent 1.00000000 DOGE" in texts(await alice.tap_button("Confirm"))


def group_message(tg, person_user, text, reply_to: Message | None = None, chat=GROUP) -> Update:
    entities = (
        [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))]
        if text.startswith("/")
        else None
    )
    msg = Message(
        message_id=tg.next_update_id(),
        date=datetime.now(UTC),
        chat=chat,
        from_user=person_user,
        text=text,
        entities=entities,
        reply_to_message=reply_to,
    )
    return Update(update_id=tg.next_update_id(), message=msg)


def said(tg, user, text="gm") -> Message:
    return group_message(tg, user, text).message


async def tip(tg, person, text, to: TgUser | None):
    reply = said(tg, to) if to is not None else None
    return await tg.feed(group_message(tg, person.user, text, reply))


async def test_tip_to_a_started_user_pays_and_confirms_in_the_group(tg, db, alice, bob):
    out = await tip(tg, alice, "/tip 0.5 DOGE", bob.user)
    assert out[0].chat_id == GROUP.id and "tipped Bob (@bob) 0.50000000 DOGE" in out[0].text
    assert await doge(db, BOB) == 50_000_000


async def test_tip_to_someone_who_never_started_is_held_and_claimed_through_the_link(tg, db, alice):
    carol = tg.person(CAROL, first_name="Carol", username=None)
    out = await tip(tg, alice, "/tip 1 DOGE", carol.user)
    assert "start the bot within 7 days" in out[0].text
    [(label, url)] = out[0].buttons()
    assert url.startswith("https://t.me/dustpan_test_bot?start=t") and "Claim" in label
    assert await doge(db, CAROL) == 0 and await doge(db, ALICE) == 10_000_000_000 - 100_000_000
    # Bob opening Carol's link gets nothing
    bob = tg.person(BOB, first_name="Bob", username="bob")
    assert "not for you" in texts(await bob.send(f"/start {url.split('=')[1]}"))
    assert "You claimed a tip of 1.00000000 DOGE" in texts(await carol.send(f"/start {url.split('=')[1]}"))
    assert await doge(db, CAROL) == 100_000_000
    assert "claimed a tip" in texts(await carol.send(f"/start {url.split('=')[1]}"))  # twice: harmless
    assert await doge(db, CAROL) == 100_000_000


@pytest.mark.parametrize(
    ("text", "to", "answer"),
    [
        ("/tip 1 DOGE", None, "Reply to someone's message"),
        ("/tip 1", "bob", "Reply to someone's message"),
        ("/tip 1 DOGE", "bot", "Bots cannot receive coins"),
        ("/tip 1 DOGE", "self", "cannot send coins to yourself"),
        ("/tip 0 DOGE", "bob", "greater than zero"),
        ("/tip 100 DOGE", "bob", "Not enough DOGE"),
        ("/tip 1 NOPE", "bob", "Unknown coin"),
    ],
)
async def test_tip_bad_input(tg, db, bob, text, to, answer):
    alice = tg.person(ALICE, first_name="Alice", username="alice")
    await alice.send("/start")
    await fund(db, user_account(ALICE), 10_000_000, "DOGE", key="a")
    target = {"bob": bob.user, "bot": OTHER_BOT, "self": alice.user, None: None}[to]
    out = texts(await tip(tg, alice, text, target))
    assert answer in out, out
    assert await doge(db, BOB) == 0 and await doge(db, ALICE) == 10_000_000


async def test_tip_in_private_chat_explains(tg, db, alice):
    assert "Reply to someone's message in a group" in texts(await alice.send("/tip 1 DOGE"))


async def test_tips_are_throttled_per_group(tg, db, alice, bob):
    # An hour's window, so a slow run cannot cross into the next window half-way (it is fixed).
    await tg.dp.workflow_data["params"].store(db, "tip.group_window", "1h", admin_id=1)
    out = []
    for _ in range(13):  # tip.group_limit is 10 per window
        out += await tip(tg, alice, "/tip 0.01 DOGE", bob.user)
    assert sum("tipped" in (s.text or "") for s in out) == 10
    assert sum("Lots of tips here" in (s.text or "") for s in out) == 1
    assert await doge(db, BOB) == 10 * 1_000_000


async def test_held_tip_rows_are_unique_per_message(tg, db, alice):
    carol = tg.person(CAROL, first_name="Carol", username=None)
    update = group_message(tg, alice.user, "/tip 1 DOGE", said(tg, carol.user))
    await tg.feed(update)
    await tg.feed(update)  # Telegram delivers it again
    rows = await db.read(lambda c: c.execute(select(social_tips)).all())
    assert len(rows) == 1 and await doge(db, ALICE) == 10_000_000_000 - 100_000_000
