"""Money and secrets stay in the private chat: in a group, the commands and buttons that
would show them answer only with a button that opens the private chat (a deep link)."""

import pytest

from core.cashout import addressbook, withdrawals
from core.earn import sites as faucet_sites
from core.identity import twofa
from core.money.accounts import user_account
from core.play import stakes
from tests.handlers.chats import GROUP, send_in_group, tap_in_group
from tests.handlers.harness import texts
from tests.money import available, fund

ALICE = 111
ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
LINK = "https://t.me/dustpan_test_bot?start="

PRIVATE_COMMANDS = [
    "/balance",
    "/history",
    "/address",
    "/addresses",
    f"/address BTC {ADDR}",
    f"/address add BTC cold {ADDR}",
    "/withdraw",
    f"/withdraw 0.001 BTC {ADDR}",
    "/withdrawals",
    "/2fa",
    "/owner",
    "/owner add Drip https://drip.example BTC 0.0000001 5m",
    "/owner fund 1 0.0001",
    "/owner key 1",
    "/refer",
    "/limits",
    "/limits BTC 0.001",
    "/bets",
    "/verify 1",
    "/proof",
]
PRIVATE_BUTTONS = [
    "m:balance",
    "m:history",
    "h:1",
    "m:addresses",
    "m:withdraw",
    "wd:asset:0:BTC",
    "wd:ok:1:",
    "wd:no:1:",
    "m:twofa",
    "2fa:on",
    "2fa:off",
    "ow:1",
    "m:refer",
    "m:limits",
    "lx:1",
    "m:bets",
    "bt:1",
]


@pytest.fixture
async def alice(tg, db):
    p = tg.person(ALICE)
    await p.send("/start")
    await fund(db, user_account(ALICE), 1_234_567)
    return p


def only_a_deep_link(sent, chat_id):
    assert [s.method for s in sent] == ["sendMessage"], [(s.method, s.text) for s in sent]
    reply = sent[0]
    assert reply.chat_id == chat_id
    buttons = [b for row in reply.markup.inline_keyboard for b in row]
    assert len(buttons) == 1 and buttons[0].url.startswith(LINK) and buttons[0].callback_data is None
    return reply


@pytest.mark.parametrize("command", PRIVATE_COMMANDS)
async def test_a_private_command_in_a_group_answers_with_a_deep_link_only(tg, db, alice, command):
    reply = only_a_deep_link(await send_in_group(alice, command), GROUP.id)
    assert "private chat" in reply.text
    for secret in ("0.01234567", "BTC", ADDR, "<code>", "otpauth"):
        assert secret not in reply.text
    state = tg.dp.fsm.get_context(tg.bot, chat_id=GROUP.id, user_id=ALICE)
    assert await state.get_state() is None  # nothing waits for a code or an address in the group
    assert await db.read(faucet_sites.sites_of, ALICE) == []
    assert await db.read(addressbook.list_addresses, ALICE) == []
    assert await db.read(withdrawals.list_for_user, ALICE) == []
    assert not await db.read(twofa.is_enabled, ALICE)
    assert (await db.read(stakes.get_limits, ALICE)).daily == {}
    assert await available(db, user_account(ALICE)) == 1_234_567


@pytest.mark.parametrize("data", PRIVATE_BUTTONS)
async def test_a_private_button_tapped_in_a_group_opens_the_private_chat(tg, db, alice, data):
    sent = await tap_in_group(alice, data)
    assert [s.method for s in sent] == ["answerCallbackQuery"], [(s.method, s.text) for s in sent]
    assert sent[0].params["url"].startswith(LINK)
    assert not sent[0].params.get("text")
    limits = await db.read(stakes.get_limits, ALICE)
    assert limits.excluded_until is None  # "pause games" did not fire from the group
    assert await db.read(withdrawals.list_for_user, ALICE) == []


async def test_the_deep_link_starts_the_private_chat_and_the_command_works_there(tg, db, alice):
    reply = only_a_deep_link(await send_in_group(alice, "/balance"), GROUP.id)
    payload = reply.markup.inline_keyboard[0][0].url.removeprefix(LINK)
    assert payload and len(payload) <= 64 and payload.replace("-", "").replace("_", "").isalnum()
    newcomer = tg.person(222, first_name="Bob")
    assert "Hi, Bob!" in texts(await newcomer.send(f"/start {payload}"))
    assert "0.01234567 BTC" in texts(await alice.send("/balance"))


async def test_public_commands_still_answer_in_a_group(tg, alice):
    assert "/balance" in texts(await send_in_group(alice, "/help"))
    assert "Hi, Alice!" in texts(await send_in_group(alice, "/start"))


async def test_the_group_reply_is_in_the_users_language(tg, db):
    carla = tg.person(333, first_name="Carla", language_code="pt")
    await carla.send("/start")
    reply = only_a_deep_link(await send_in_group(carla, "/balance"), GROUP.id)
    assert "conversa privada" in reply.text
