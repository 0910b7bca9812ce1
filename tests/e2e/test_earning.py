"""Earning end to end: a user claims the faucet through the captcha buttons of the running
bot, and a faucet site pays a user through the HTTP API served by the same process."""

import re

import aiohttp
import pytest
from sqlalchemy import select

from core.identity import captcha
from core.money import ledger
from core.money.accounts import user_account

pytestmark = pytest.mark.timeout(120)


async def say(user, text):
    await user.send(text)
    await user.wait_for("sendMessage")
    return user.last_message().text


async def tap(fake_api, user, button):
    await user.tap_button(button)
    await fake_api.wait_for("answerCallbackQuery", chat_id=user.id)
    return user.last_message()


async def right_number(db, puzzle) -> str:
    """What a person reads off the picture; the test asks the server's database instead."""
    data = next(b["callback_data"] for row in puzzle.buttons for b in row if b["text"] == "1")
    t = captcha.challenges
    cid = int(data.split(":")[1])
    right = await db.read(lambda c: c.execute(select(t.c.answer).where(t.c.id == cid)).scalar())
    return str(right + 1)


async def test_faucet_claim_through_captcha_buttons_and_api_payment(fake_api, bot_process, bot_env, db):
    proc = bot_process(env=bot_env)
    await proc.start(ready=fake_api.ready_when("getUpdates"), timeout=60)
    admin = fake_api.user(9001, "Root", username="root")
    await say(admin, "/start")
    await say(admin, "/deposit 1 BTC float")
    assert "faucet_pool" in await say(admin, "/fund faucet_pool 0.5 BTC")

    # Alice claims: pick BTC, find the framed shape in the picture, tap its number.
    alice = fake_api.user(1001, "Alice", username="alice")
    await say(alice, "/start")
    await say(alice, "/faucet")
    puzzle = await tap(fake_api, alice, "BTC")
    assert puzzle.kind == "photo" and puzzle.raw["photo"][-1]["width"] == 600, puzzle
    wanted = re.search(r"Tap its number to claim ([0-9.]+ BTC)", puzzle.text)
    assert wanted, puzzle.text
    # Another picture replaces this one in place (editMessageMedia), with a new challenge.
    first = puzzle
    await alice.tap_button("Another picture")
    await fake_api.wait_for("answerCallbackQuery", chat_id=alice.id)  # the bot answers after the edit
    assert fake_api.find_calls("editMessageMedia")
    puzzle = alice.last_message()
    assert puzzle.message_id == first.message_id and puzzle.edited
    assert puzzle.raw["photo"][-1]["file_id"] != first.raw["photo"][-1]["file_id"]
    assert puzzle.buttons[0][0]["callback_data"] != first.buttons[0][0]["callback_data"]
    paid = await tap(fake_api, alice, await right_number(db, puzzle))
    assert "Correct!" in paid.text and wanted.group(1) in paid.text
    assert wanted.group(1) in await say(alice, "/balance")

    # A second claim in the same window is refused with the time left.
    await say(alice, "/faucet")
    await alice.tap_button("BTC")
    answer = await fake_api.wait_for("answerCallbackQuery", chat_id=alice.id)
    assert "Next claim in" in answer.params.get("text", "")

    # Bob runs a faucet site and pays Alice (by username) through the HTTP API.
    bob = fake_api.user(1002, "Bob", username="bob")
    await say(bob, "/start")
    await say(admin, "/credit @bob 0.01 BTC site budget")
    registered = await say(bob, "/owner add Dripper https://dripper.example BTC 0.00000100 60")
    api_key = re.search(r"API key.*?\n(\S+)", registered, re.S).group(1)
    site_id = re.search(r"#(\d+)", registered).group(1)
    await say(bob, f"/owner fund {site_id} 0.001")

    base = f"http://127.0.0.1:{bot_env['WEB_PORT']}/api/v1"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/send", data={"api_key": api_key, "to": "alice", "amount": "250", "currency": "BTC"}
        ) as r:
            sent = await r.json()
        async with http.post(
            f"{base}/send", data={"api_key": "wrong", "to": "alice", "amount": "250", "currency": "BTC"}
        ) as r:
            refused = await r.json()
        async with http.post(f"{base}/getbalance", data={"api_key": api_key, "currency": "BTC"}) as r:
            balance = await r.json()
    assert sent["status"] == 200 and sent["payout_id"] and sent["payout_user_hash"]
    assert refused["status"] == 403
    assert balance["status"] == 200 and int(balance["balance"]) == 100_000 - 250

    history = await say(alice, "/history")
    assert "0.00000250 BTC" in history
    assert await proc.stop() == 0
    got = (await db.read(ledger.balance, user_account(1001), "BTC")).available
    assert got == 250 + int(float(wanted.group(1).split()[0]) * 10**8 + 0.5)


async def test_referral_link_binds_and_pays_commission_from_marketing(fake_api, bot_process, bot_env, db):
    proc = bot_process(env=bot_env)
    await proc.start(ready=fake_api.ready_when("getUpdates"), timeout=60)
    admin = fake_api.user(9001, "Root", username="root")
    for text in ("/start", "/deposit 1 BTC x", "/fund faucet_pool 0.5 BTC", "/fund marketing 0.1 BTC"):
        await say(admin, text)
    alice = fake_api.user(1001, "Alice", username="alice")
    await say(alice, "/start")
    link = re.search(r"https://t\.me/dustpan_test_bot\?start=(\S+)", await say(alice, "/refer"))
    assert link, "the invite link names the bot as getMe reports it"

    bob = fake_api.user(1002, "Bob", username="bob")
    await say(bob, f"/start {link.group(1)}")
    await say(bob, "/faucet")
    puzzle = await tap(fake_api, bob, "BTC")
    assert "Correct! 0.00000100 BTC" in (await tap(fake_api, bob, await right_number(db, puzzle))).text

    stats = await say(alice, "/refer")
    assert "People invited: 1 (active: 1)" in stats and "0.00000010 BTC" in stats
    assert await proc.stop() == 0
    assert (await db.read(ledger.balance, user_account(1002), "BTC")).available == 100  # never reduced
    assert (await db.read(ledger.balance, user_account(1001), "BTC")).available == 10
