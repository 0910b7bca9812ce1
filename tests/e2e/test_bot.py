"""The whole bot as a subprocess (python bot.py) against a fake Telegram Bot API on 127.0.0.1."""

import aiohttp
import pytest

from core.money import ledger
from core.money.accounts import user_account

pytestmark = pytest.mark.timeout(90)


async def test_polling_start_then_balance(fake_api, bot_process, bot_env, db):
    proc = bot_process(env=bot_env)
    await proc.start(ready=fake_api.ready_when("getUpdates"), timeout=60)

    alice = fake_api.user(1001, "Alice", username="alice", language_code="en")
    await alice.send("/start")
    await alice.wait_for("sendMessage")
    welcome = alice.last_message()
    assert "Hi, Alice!" in welcome.text
    assert "💰 Balance" in welcome.button_texts()

    await alice.send("/balance")
    await alice.wait_for("sendMessage")
    assert "Nothing yet: try the faucet" in alice.last_message().text  # issue 12: no six zeros
    await alice.tap_button("Show all coins")
    await fake_api.wait_for("answerCallbackQuery", chat_id=alice.id)
    assert "0.00000000 BTC" in alice.last_message().text and "0.000000 USDT" in alice.last_message().text

    # taps edit the message in place and answer the button
    await alice.tap_button("Menu")
    await fake_api.wait_for("answerCallbackQuery", chat_id=alice.id)
    assert "What would you like to do?" in alice.last_message().text
    await alice.tap_button("Balance")
    await fake_api.wait_for("answerCallbackQuery", chat_id=alice.id)
    assert "Your balance" in alice.last_message().text

    # the command menu was registered per language
    assert [c["command"] for c in fake_api.commands(language_code="es")][:3] == [
        "start",
        "balance",
        "history",
    ]
    assert fake_api.commands(language_code="ru")[1]["description"] == "Ваш баланс по каждой монете"

    assert await proc.stop() == 0
    assert "stopped" in proc.output()
    assert fake_api.token not in proc.output() and "TEST-TOKEN" not in proc.output()  # no secrets in logs


async def test_admin_credit_reaches_the_users_balance(fake_api, bot_process, bot_env, db):
    proc = bot_process(env=bot_env)
    await proc.start(ready=fake_api.ready_when("getUpdates"), timeout=60)
    admin = fake_api.user(9001, "Root", username="root")
    bob = fake_api.user(1002, "Bob", username="bobby", language_code="pt")
    await bob.send("/start")
    await bob.wait_for("sendMessage")
    await admin.send("/deposit 10 DOGE float")
    await admin.wait_for("sendMessage")
    await admin.send("/credit @bobby 2,5 DOGE welcome")
    await admin.wait_for("sendMessage")
    assert "Credited 2.50000000 DOGE to user 1002" in admin.last_message().text
    await bob.send("/balance")
    await bob.wait_for("sendMessage")
    assert "Seu saldo" in bob.last_message().text and "2.50000000 DOGE" in bob.last_message().text
    await bob.send("/history")
    await bob.wait_for("sendMessage")
    assert "Crédito da equipe Dustpan" in bob.last_message().text
    assert await proc.stop() == 0
    assert (await db.read(ledger.balance, user_account(1002), "DOGE")).available == 250_000_000


async def test_webhook_mode(fake_api, bot_process, bot_env, db):
    port = bot_env["WEB_PORT"]
    env = {**bot_env, "WEBHOOK_URL": f"http://127.0.0.1:{port}/tg/hook", "WEBHOOK_SECRET": "s3cret_token"}
    proc = bot_process(env=env)
    await proc.start(ready=fake_api.ready_when("setWebhook"), timeout=60)
    assert fake_api.webhook_url == f"http://127.0.0.1:{port}/tg/hook"

    carol = fake_api.user(1003, "Carol", language_code="id")
    await carol.send("/start")
    await carol.wait_for("sendMessage")
    assert "Hai, Carol!" in carol.last_message().text
    await carol.send("/balance")
    await carol.wait_for("sendMessage")
    assert "Saldo Anda" in carol.last_message().text

    # a request without the secret token is refused and handles nothing
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{port}/tg/hook", json={"update_id": 1}) as resp:
            assert resp.status == 401
        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert (await resp.json()) == {"ok": True}
    assert await proc.stop() == 0


async def test_in_memory_database_url_runs_on_a_throwaway_file(fake_api, bot_process, bot_env):
    proc = bot_process(env={**bot_env, "DATABASE_URL": "sqlite+aiosqlite:///:memory:", "SECRET_KEY": ""})
    await proc.start(ready=fake_api.ready_when("getUpdates"), timeout=60)
    dave = fake_api.user(1004, "Dave")
    await dave.send("/balance")
    await dave.wait_for("sendMessage")
    assert "Your balance" in dave.last_message().text  # the database answers (a new user: "Nothing yet")
    assert await proc.stop() == 0
