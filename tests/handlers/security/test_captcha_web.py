"""The Mini App captcha (CAPTCHA_PROVIDER=turnstile|hcaptcha): the bot's button, the page,
Telegram's initData, the provider's siteverify (a local fake), and the faucet claim it settles."""

import hashlib
import hmac
import json
import time
from dataclasses import replace
from urllib.parse import urlencode, urlsplit

import pytest
from aiogram.utils.web_app import check_webapp_signature
from aiohttp.test_utils import TestClient, TestServer

from core.config import load_settings
from core.money.accounts import FAUCET_POOL, user_account
from core.platform import notices
from handlers.security.captcha_web import verify_init_data
from handlers.web import build_web_app
from tests.fakes.siteverify import FakeSiteverify
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import BOT_TOKEN
from tests.money import available, fund

ALICE, BOB = 111, 222
SECRET = "0x4AAAAAAAfake-secret"
SITE_KEY = "0x4AAAAAAAfake-sitekey"
REWARD = 100


def init_data(user_id: int, *, token: str = BOT_TOKEN, auth_date: int | None = None, lang="en") -> str:
    """initData as Telegram signs it (HMAC-SHA256 keyed with HMAC-SHA256("WebAppData", token))."""
    fields = {
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "A", "language_code": lang}, separators=(",", ":")),
    }
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


@pytest.fixture
async def fake_sv():
    async with FakeSiteverify(secret=SECRET) as fake:
        yield fake


@pytest.fixture(params=["turnstile"])
def provider(request):
    return request.param


@pytest.fixture
def settings(database_url, fake_sv, provider):
    s = load_settings(
        {
            "BOT_TOKEN": BOT_TOKEN,
            "DATABASE_URL": database_url,
            "ADMIN_IDS": str(ADMIN),
            "SECRET_KEY": "k" * 40,
            "CAPTCHA_PROVIDER": provider,
            "PUBLIC_URL": "https://dustpan.example",
            "CAPTCHA_SITE_KEY": SITE_KEY,
            "CAPTCHA_SECRET_KEY": SECRET,
            "CAPTCHA_VERIFY_URL": fake_sv.url,
        }
    )
    return replace(s, captcha_verify_timeout=0.5)


@pytest.fixture
async def http(tg, settings, db):
    client = TestClient(TestServer(build_web_app(settings, tg.dp, tg.bot, db)))
    await client.start_server()
    yield client
    await client.close()


async def open_check(person, asset="BTC") -> str:
    """Tap the coin; return the path of the Mini App the bot's button opens."""
    await person.send("/faucet")
    sent = await person.tap_button(asset)
    msg = next(s for s in sent if s.markup is not None and s.method != "answerCallbackQuery")
    assert "Open the check" in msg.text
    button = msg.markup.inline_keyboard[0][0]
    assert button.web_app is not None and button.callback_data is None
    url = urlsplit(button.web_app.url)
    assert url.scheme == "https" and url.netloc == "dustpan.example" and url.query == "lang=en"
    return url.path


async def post(http, path, user_id, token, **kw):
    r = await http.post(f"{path}/verify", json={"init_data": init_data(user_id, **kw), "token": token})
    return r.status, await r.json()


async def test_passed_check_pays_once_and_a_token_is_taken_once(tg, http, db, fake_sv):
    await fund(db, FAUCET_POOL, 100_000)
    await fund(db, FAUCET_POOL, 100_000, asset="LTC", key="ltc")
    alice = tg.person(ALICE)
    path = await open_check(alice)
    page = await http.get(path + "?lang=en")
    body = await page.text()
    assert page.status == 200 and SITE_KEY in body and "challenges.cloudflare.com/turnstile" in body
    assert SECRET not in body

    token = fake_sv.issue()
    status, out = await post(http, path, ALICE, token)
    assert (status, out["ok"], out["status"]) == (200, True, "passed"), out
    assert "Correct! 0.00000100 BTC is in your wallet" in out["text"]
    assert await available(db, user_account(ALICE)) == REWARD
    assert fake_sv.calls == [{"secret": SECRET, "response": token}]  # 127.0.0.1 is no public remoteip
    assert await db.read(notices.pending_count) == 1  # the chat hears of it too

    # The same token again: on the same challenge, and on a fresh one (another coin).
    status, out = await post(http, path, ALICE, token)
    assert status == 409 and out["status"] == "challenge_used" and not out["ok"]
    ltc = await open_check(alice, "LTC")
    status, out = await post(http, ltc, ALICE, token)
    assert status == 409 and out["status"] == "token_used"
    assert len(fake_sv.calls) == 1  # refused here, without asking the provider
    assert await available(db, user_account(ALICE), "LTC") == 0
    # A new token settles the new challenge; a button tap cannot answer a provider's challenge.
    challenge = ltc.rsplit("/", 1)[1]
    sent = await alice.tap(f"fq:{challenge}:0")
    assert "not yours" in [s for s in sent if s.method == "answerCallbackQuery"][0].text
    status, out = await post(http, ltc, ALICE, fake_sv.issue())
    assert status == 200 and out["ok"] and await available(db, user_account(ALICE), "LTC") == 1000


async def test_forged_or_foreign_init_data_is_refused(tg, http, db, fake_sv):
    await fund(db, FAUCET_POOL, 100_000)
    alice, bob = tg.person(ALICE), tg.person(BOB, first_name="Bob", username="bob")
    path = await open_check(alice)
    await bob.send("/start")
    forged = [
        init_data(ALICE, token="654321:ANOTHER-BOT"),  # signed with another bot's token
        init_data(ALICE, auth_date=int(time.time()) - 2 * 86400),  # stale
        init_data(BOB).replace("%22id%22%3A222", "%22id%22%3A111"),  # Bob's, relabelled as Alice
        init_data(ALICE).rsplit("&hash=", 1)[0],  # no hash
        init_data(ALICE) + "&user=%7B%22id%22%3A111%7D",  # a repeated field
        "",
    ]
    for data in forged:
        r = await http.post(f"{path}/verify", json={"init_data": data, "token": fake_sv.issue()})
        assert r.status == 403, data
        assert "from the bot's button" in (await r.json())["text"]
    for bad in ("not json", "[]", '{"init_data": 5}'):
        r = await http.post(f"{path}/verify", data=bad, headers={"Content-Type": "application/json"})
        assert r.status == 403
    status, out = await post(http, path, BOB, fake_sv.issue())  # genuine, but not Bob's challenge
    assert status == 404 and out["status"] == "challenge_unknown"
    assert fake_sv.calls == []
    assert await available(db, user_account(ALICE)) == 0 and await available(db, user_account(BOB)) == 0
    # Alice herself still can.
    status, out = await post(http, path, ALICE, fake_sv.issue())
    assert status == 200 and out["ok"]


async def test_failed_check_is_a_wrong_answer(tg, http, db, fake_sv):
    await fund(db, FAUCET_POOL, 100_000)
    alice = tg.person(ALICE)
    path = await open_check(alice)
    status, out = await post(http, path, ALICE, "XXXX.made-up-by-a-script")
    assert status == 200 and not out["ok"] and out["status"] == "failed"
    assert "Wrong answer" in out["text"]
    status, out = await post(http, path, ALICE, fake_sv.issue())  # the challenge was used up
    assert status == 409 and out["status"] == "challenge_used"
    await alice.send("/faucet")
    sent = await alice.tap_button("BTC")  # and the next one waits
    assert "short pause" in [s for s in sent if s.method == "answerCallbackQuery"][0].text
    assert await available(db, user_account(ALICE)) == 0


async def test_provider_timeout_or_refused_keys_decide_nothing(tg, http, db, fake_sv):
    await fund(db, FAUCET_POOL, 100_000)
    alice = tg.person(ALICE)
    path = await open_check(alice)
    fake_sv.delay = 2.0  # beyond captcha_verify_timeout (0.5 s)
    status, out = await post(http, path, ALICE, fake_sv.issue())
    assert status == 503 and out["status"] == "unavailable" and "try again" in out["text"]
    fake_sv.delay = 0
    fake_sv.secret = "rotated"  # our key is refused: not the user's fault either
    status, out = await post(http, path, ALICE, fake_sv.issue())
    assert status == 503 and out["status"] == "unavailable"
    fake_sv.secret = SECRET
    assert await available(db, user_account(ALICE)) == 0
    status, out = await post(http, path, ALICE, fake_sv.issue())  # the challenge stayed open
    assert status == 200 and out["ok"] and await available(db, user_account(ALICE)) == REWARD


@pytest.mark.parametrize("provider", ["hcaptcha"], indirect=True)
async def test_hcaptcha_page_and_sitekey(tg, http, db, fake_sv):
    await fund(db, FAUCET_POOL, 100_000)
    alice = tg.person(ALICE, language_code="ru")
    await alice.send("/start")
    await alice.send("/faucet")
    sent = await alice.tap_button("BTC")
    url = urlsplit(next(s for s in sent if s.markup is not None).markup.inline_keyboard[0][0].web_app.url)
    assert url.query == "lang=ru"
    page = await (await http.get(f"{url.path}?{url.query}")).text()
    assert 'lang="ru"' in page and "js.hcaptcha.com" in page and 'class="h-captcha"' in page
    status, out = await post(http, url.path, ALICE, fake_sv.issue(), lang="ru")
    assert status == 200 and out["ok"] and "Верно" in out["text"]
    assert fake_sv.calls[0]["sitekey"] == SITE_KEY


async def test_page_is_not_served_with_the_picture_captcha(db, tg, database_url):
    settings = load_settings({"BOT_TOKEN": BOT_TOKEN, "DATABASE_URL": database_url, "SECRET_KEY": "k" * 40})
    client = TestClient(TestServer(build_web_app(settings, tg.dp, tg.bot, db)))
    await client.start_server()
    try:
        assert (await client.get("/captcha/1")).status == 404
        assert (await client.post("/captcha/1/verify", json={})).status == 404
    finally:
        await client.close()


def test_init_data_check_agrees_with_aiogram_and_telegram_docs():
    data = init_data(ALICE)
    assert check_webapp_signature(BOT_TOKEN, data)  # aiogram's own implementation of the docs
    assert verify_init_data(data, BOT_TOKEN)["id"] == ALICE
    assert verify_init_data(data, "654321:OTHER") is None
    assert verify_init_data(init_data(ALICE, auth_date=int(time.time()) - 7200), BOT_TOKEN) is None
