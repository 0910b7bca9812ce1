"""Money between people against the running bot and the fake Bot API: an inline query turned
into a check when chosen, claimed by a new user through the deep link (who then counts in the
creator's /refer); a tip in a group to someone who has not started the bot, claimed later."""

import re

import pytest

from core.money import ledger
from core.money.accounts import user_account

pytestmark = pytest.mark.timeout(120)


async def say(user, text):
    await user.send(text)
    await user.wait_for("sendMessage")
    return user.last_message().text


async def test_inline_check_and_group_tip_end_to_end(fake_api, bot_process, bot_env, db):
    proc = bot_process(env=bot_env)
    await proc.start(ready=fake_api.ready_when("getUpdates", timeout=90), timeout=100)
    admin = fake_api.user(9001, "Root", username="root")
    alice = fake_api.user(1001, "Alice", username="alice")
    await say(alice, "/start")
    for text in ("/start", "/deposit 100 DOGE float", "/credit @alice 10 DOGE gift"):
        await say(admin, text)

    # Inline: offered (nothing reserved), chosen in a group (the check is made), claimed by Bob.
    group = fake_api.group(-1001234, "Dust lovers")
    query = await alice.inline_query("0.5 DOGE 2")
    await fake_api.wait_for("answerInlineQuery")
    [offer] = fake_api.inline_answer(query)["results"]
    assert "2 × 0.50000000 DOGE" in offer["title"]
    assert (await db.read(ledger.balance, user_account(1001), "DOGE")).available == 10 * 10**8
    chosen = await alice.choose_inline_result(query, offer["id"], chat=group)
    edit = await fake_api.wait_for("editMessageText")
    assert edit.params["inline_message_id"] == chosen["chosen_inline_result"]["inline_message_id"]
    posted = fake_api.inline_message(edit.params["inline_message_id"])
    url = posted.button("Claim")["url"]
    payload = re.fullmatch(r"https://t\.me/dustpan_test_bot\?start=(c[\w-]{16})", url).group(1)
    assert (await db.read(ledger.balance, user_account(1001), "DOGE")).available == 9 * 10**8

    bob = fake_api.user(1002, "Bob", username="bob")
    assert "You claimed 0.50000000 DOGE" in await say(bob, f"/start {payload}")
    assert "People invited: 1" in await say(alice, "/refer")

    # A tip in the group to Carol, who has never started the bot: held, then claimed.
    carol = fake_api.user(1003, "Carol")
    said = await group.send(carol, "gm everyone")
    await group.send(alice, "/tip 0.25 DOGE", reply_to=said["message"]["message_id"])
    await fake_api.wait_for("sendMessage", chat_id=group.id)
    note = [m for m in group.messages() if m.from_bot][-1]
    assert "tipped Carol 0.25000000 DOGE" in note.text
    claim = note.button("Claim")["url"].split("start=")[1]
    assert (await db.read(ledger.balance, user_account(1003), "DOGE")).available == 0
    assert "You claimed a tip of 0.25000000 DOGE" in await say(carol, f"/start {claim}")
    assert "0.25000000 DOGE" in await say(carol, "/balance")
    assert await proc.stop() == 0
    assert (await db.read(ledger.balance, user_account(1001), "DOGE")).available == 9 * 10**8 - 25_000_000
