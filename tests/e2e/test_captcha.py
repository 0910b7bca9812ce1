"""The Mini App captcha end to end: bot.py with CAPTCHA_PROVIDER=turnstile, the fake Bot API,
and a fake Turnstile siteverify, all on 127.0.0.1. The user taps the coin, the Mini App page
(reached on the bot's own HTTP server, as a proxy would forward PUBLIC_URL) posts the token with
Telegram's initData, the claim is paid once, and the chat hears of it."""

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode, urlsplit

import aiohttp
import pytest

from core.money import ledger
from core.money.accounts import user_account
from tests.fakes.bot_api import DEFAULT_TOKEN
from tests.fakes.siteverify import FakeSiteverify

pytestmark = pytest.mark.timeout(120)
SECRET = "0x4AAAAAAA-e2e-secret-key"


def init_data(user: dict) -> str:
    fields = {"auth_date": str(int(time.time())), "user": json.dumps(user, separators=(",", ":"))}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    key = hmac.new(b"WebAppData", DEFAULT_TOKEN.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


async def say(user, text):
    await user.send(text)
    await user.wait_for("sendMessage")
    return user.last_message().text


async def test_turnstile_mini_app_claim(fake_api, bot_process, bot_env, db):
    async with FakeSiteverify(secret=SECRET) as turnstile:
        env = {
            **bot_env,
            "CAPTCHA_PROVIDER": "turnstile",
            "PUBLIC_URL": "https://dustpan.example",
            "CAPTCHA_SITE_KEY": "0x4AAAAAAA-e2e-site-key",
            "CAPTCHA_SECRET_KEY": SECRET,
            "CAPTCHA_VERIFY_URL": turnstile.url,
        }
        proc = bot_process(env=env)
        await proc.start(ready=fake_api.ready_when("getUpdates"), timeout=60)
        admin = fake_api.user(9001, "Root", username="root")
        for text in ("/start", "/deposit 1 BTC float", "/fund faucet_pool 0.5 BTC"):
            await say(admin, text)
        alice = fake_api.user(1001, "Alice", username="alice")
        await say(alice, "/start")
        await say(alice, "/faucet")
        await alice.tap_button("BTC")
        await fake_api.wait_for("answerCallbackQuery", chat_id=alice.id)
        shown = alice.last_message()
        assert "Open the check" in shown.text
        button = shown.buttons[0][0]
        url = urlsplit(button["web_app"]["url"])
        assert url.netloc == "dustpan.example" and "callback_data" not in button

        base = f"http://127.0.0.1:{bot_env['WEB_PORT']}{url.path}"
        token = turnstile.issue()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}?{url.query}") as r:
                assert r.status == 200 and "cf-turnstile" in await r.text()
            body = {"init_data": init_data(alice.as_user()), "token": token}
            async with http.post(f"{base}/verify", json=body) as r:
                first = (r.status, await r.json())
            async with http.post(f"{base}/verify", json=body) as r:
                replay = (r.status, await r.json())
            forged = {**body, "init_data": init_data(alice.as_user()).replace("1001", "1002")}
            async with http.post(f"{base}/verify", json=forged) as r:
                refused = r.status
        assert first[0] == 200 and first[1]["ok"] and "Correct!" in first[1]["text"], first
        assert replay[0] == 409 and not replay[1]["ok"]
        assert refused == 403
        # The chat hears of the claim (the notice job delivers it within a second or so).
        await fake_api.wait_for("sendMessage", chat_id=alice.id, timeout=15)
        assert "Correct! 0.00000100 BTC is in your wallet" in alice.last_message().text
        assert await proc.stop() == 0
    log = proc.output()
    assert SECRET not in log and token not in log
    assert (await db.read(ledger.balance, user_account(1001), "BTC")).available == 100
