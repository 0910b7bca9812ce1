"""Cash-out end to end: 2FA from the QR secret, an address, a withdrawal, the payout batch,
and the transaction id in /withdrawals, against the running bot."""

import asyncio
import re
import time

import pyotp
import pytest

from core.money import ledger
from core.money.accounts import user_account

pytestmark = pytest.mark.timeout(120)
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


async def say(user, text):
    await user.send(text)
    await user.wait_for("sendMessage")
    return user.last_message().text


async def test_2fa_address_withdraw_and_txid(fake_api, bot_process, bot_env, db):
    proc = bot_process(env={**bot_env, "PAYOUT_EVERY": "1s"})
    await proc.start(ready=fake_api.ready_when("getUpdates"), timeout=60)
    admin = fake_api.user(9001, "Root", username="root")
    alice = fake_api.user(1001, "Alice", username="alice")
    for who, text in [
        (admin, "/start"),
        (alice, "/start"),
        (admin, "/deposit 1 BTC x"),
        (admin, "/credit @alice 0.01 BTC x"),
    ]:
        await say(who, text)

    # 2FA: the QR code arrives as a photo, the secret as text; a valid code turns it on.
    await alice.send("/2fa")  # the on/off screen; setup starts from its button (issue 12, item 5)
    await alice.wait_for("sendMessage")
    await alice.tap_button("Turn 2FA on")
    photo = await alice.wait_for("sendPhoto")
    assert photo.params["photo"].data.startswith(b"\x89PNG")
    await asyncio.sleep(0.3)
    secret = re.search(r"\b([A-Z2-7]{32})\b", " ".join(m.text for m in alice.messages())).group(1)
    totp = pyotp.TOTP(secret)
    turned_on = await say(alice, totp.now())
    assert "is on" in turned_on
    backup = re.findall(r"^[a-z0-9]{5}-[a-z0-9]{5}$", turned_on, re.M)
    assert len(backup) == 10

    # Adding an address needs a code (the next time step is within the allowed drift).
    assert "code" in await say(alice, f"/addresses add BTC cold {ADDRESS}")
    assert "Saved cold" in await say(alice, totp.at(time.time() + 30))

    # Withdraw with the address's label: quote, confirm, then a code (a backup code here).
    quote = await say(alice, "/withdraw 0.0009 BTC cold")
    assert "You will receive: 0.00089000 BTC" in quote
    await alice.tap_button("Confirm")
    await fake_api.wait_for("answerCallbackQuery", chat_id=alice.id)
    await say(alice, backup[0])
    assert (await db.read(ledger.balance, user_account(1001), "BTC")).held == 90_000

    # The batch job sends the manual batch to the admin as a CSV; the admin marks it paid.
    doc = await fake_api.wait_for("sendDocument", chat_id=admin.id, timeout=20)
    assert ADDRESS in doc.params["document"].data.decode()
    batch = re.search(r"/paid (\d+) TXID", doc.params["caption"]).group(1)
    assert "marked sent" in await say(admin, f"/paid {batch} f00dfeed")

    listing = await say(alice, "/withdrawals")
    assert "f00dfeed" in listing
    after = await db.read(ledger.balance, user_account(1001), "BTC")
    assert (after.balance, after.held) == (1_000_000 - 90_000, 0)
    assert await proc.stop() == 0
    log = proc.output()
    assert secret not in log and backup[0] not in log  # no secrets or codes in logs


async def test_crypto_pay_payouts_carry_this_installations_spend_ids(fake_api, bot_process, bot_env, db):
    """bot.py hands SECRET_KEY to the Crypto Pay backend: its spend ids are this installation's
    own (issue 9, item 4), not ``wd-<id>``, which any installation on the same app would use."""
    from jobs.payout_backends import CryptoPayBackend
    from tests.fakes.payouts import FakeCryptoPay, serve

    app = FakeCryptoPay()
    runner, port = await serve(app.app())
    env = {
        **bot_env,
        "PAYOUT_EVERY": "1s",
        "PAYOUT_BACKEND_USDT": "cryptopay",
        "CRYPTOPAY_TOKEN": app.token,
        "CRYPTOPAY_URL": f"http://127.0.0.1:{port}/api",
    }
    try:
        proc = bot_process(env=env)
        await proc.start(ready=fake_api.ready_when("getUpdates", timeout=45), timeout=60)
        admin = fake_api.user(9001, "Root", username="root")
        alice = fake_api.user(1001, "Alice", username="alice")
        for who, text in [
            (admin, "/start"),
            (alice, "/start"),
            (admin, "/deposit 100 USDT x"),
            (admin, "/credit @alice 10 USDT x"),
        ]:
            await say(who, text)
        assert "@CryptoBot" in await say(alice, "/withdraw 6 USDT")
        await alice.tap_button("Confirm")
        for _ in range(100):  # the payout job runs every second
            if app.paid:
                break
            await asyncio.sleep(0.2)
        assert [(t["user_id"], t["amount"]) for t in app.paid] == [(1001, "5.000000")]
        mine = CryptoPayBackend(app.token, secret_key=bot_env["SECRET_KEY"])
        assert app.paid[0]["spend_id"] == mine.spend_id(1) != "wd-1"
        assert await proc.stop() == 0
        assert bot_env["SECRET_KEY"] not in proc.output()
    finally:
        await runner.cleanup()
