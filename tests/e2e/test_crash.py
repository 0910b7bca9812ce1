"""Crash end to end: an admin commits a chain and sets the salt, a player joins at once,
cashes out or busts, and the revealed game hash checks out against the commitment."""

import asyncio
import hashlib
import hmac
import re

import pytest

from tests.fakes.bitcoin_node import FakeNode, serve

pytestmark = pytest.mark.timeout(180)
SALT = "00000000000000000001a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"


def bustabit(game_hash: bytes, salt: str) -> float:
    """bustabit's published formula, in floats as its verifier computes it."""
    h = hmac.new(salt.encode(), game_hash, hashlib.sha256).hexdigest()
    r = int(h[:13], 16)
    x = r / 2**52
    return max(1.0, int(99 / (1 - x)) / 100)


async def say(user, text):
    await user.send(text)
    await user.wait_for("sendMessage")
    return user.last_message().text


async def test_join_cash_out_and_verify_the_round(fake_api, bot_process, bot_env, db):
    node = FakeNode(tip=925_000)
    node_runner = await serve(node)
    env = {**bot_env, "CRASH_BETTING_SECONDS": "1s", "CRASH_CHAIN_LENGTH": "50", "RPC_URL_BTC": node.url}
    try:
        await play_a_round(fake_api, bot_process, env, node)
    finally:
        await node_runner.cleanup()


async def play_a_round(fake_api, bot_process, env, node):
    proc = bot_process(env=env)
    await proc.start(ready=fake_api.ready_when("getUpdates"), timeout=60)
    admin = fake_api.user(9001, "Root", username="root")
    alice = fake_api.user(1001, "Alice", username="alice")
    for who, text in [
        (admin, "/start"),
        (alice, "/start"),
        (admin, "/deposit 10 DOGE x"),
        (admin, "/fund house 5 DOGE"),
        (admin, "/credit @alice 1 DOGE x"),
    ]:
        await say(who, text)
    created = await say(admin, "/crashnew")  # the bot asks the node for the newest height
    commitment = re.search(r"\b([0-9a-f]{64})\b", created).group(1)
    assert "Bitcoin block #925006" in created
    assert "not mined yet" in await say(admin, f"/crashsalt {SALT}")
    node.mine(925_006, SALT)  # an hour later, the block is mined: its hash is the salt
    assert "Rounds start now" in await say(admin, f"/crashsalt {SALT}")

    joined = await say(alice, "/crash 0.01 DOGE")
    assert "Crash round #1" in joined
    round_message = alice.last_message()

    # Wait for the live view's Cash out button to be usable, then press it.
    answer = None
    for _ in range(100):
        await asyncio.sleep(0.1)
        text = alice.messages()[-1].text if alice.messages() else ""
        if re.search(r"Round #1: [0-9.]+x", text) and "💸 Cash out" in alice.messages()[-1].button_texts():
            await alice.tap(alice.messages()[-1].message_id, round_message.buttons[0][0]["callback_data"])
            answer = (await fake_api.wait_for("answerCallbackQuery", chat_id=alice.id)).params.get("text", "")
            break
        if "crashed" in text.lower() or "bust" in text.lower():
            break

    # After the round the hash is revealed; it chains to the commitment and gives the crash point.
    # (A round lasts ln(crash point) / 0.00006 ms: one crashing above ~100x runs over a minute.)
    for _ in range(400):
        revealed = " ".join(m.text for m in alice.messages())
        found = re.search(r"hash[^0-9a-f]*([0-9a-f]{64})", revealed)
        if found:
            break
        await asyncio.sleep(0.2)
    if not found:
        await proc.stop()
        pytest.skip("this chain's first round is still climbing after 80 s; nothing revealed to check yet")
    game_hash = bytes.fromhex(found.group(1))
    link, steps = game_hash, 0
    while link.hex() != commitment and steps < 60:
        link, steps = hashlib.sha256(link).digest(), steps + 1
    assert link.hex() == commitment
    point = re.search(r"([0-9]+\.[0-9]{2})x", revealed.split(found.group(1))[0][-200:] + revealed)
    assert point is not None
    assert f"{bustabit(game_hash, SALT):.2f}x" in revealed
    if answer:
        assert re.search(r"[0-9]+\.[0-9]{2}x", answer) or "crashed" in answer.lower()
    assert await proc.stop() == 0
