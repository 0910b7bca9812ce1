"""Ads end to end against the running bot: an advertiser's campaign, an admin's approval, a viewer's
visit through the real tracking link to a local page, the claim after the timer, the referrer's
commission; and a join task checked with getChatMember, including a viewer who leaves early."""

import asyncio
import re

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from core.earn import ads
from core.identity import captcha
from core.money import ledger
from core.money.accounts import FEES, user_account
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.timeout(180)
ADMIN, ALICE, BOB, CAROL, DAVE, ERIN = 9001, 1001, 1002, 1003, 1004, 1005


async def say(user, text):
    await user.send(text)
    await user.wait_for("sendMessage")
    return user.last_message().text


async def tap(fake_api, user, button):
    await user.tap_button(button)
    await fake_api.wait_for("answerCallbackQuery", chat_id=user.id)
    return user.last_message()


async def solve(fake_api, db, user):
    """Tap Claim, then the number of the framed shape (read from the server, as a person reads the picture)."""
    puzzle = await tap(fake_api, user, "Claim")
    assert puzzle.kind == "photo", puzzle.text
    data = next(b["callback_data"] for row in puzzle.buttons for b in row if b["text"] == "1")
    cid = int(data.split(":")[1])
    t = captcha.challenges
    right = await db.read(lambda c: c.execute(select(t.c.answer).where(t.c.id == cid)).scalar())
    return await tap(fake_api, user, str(right + 1))


@pytest.fixture
async def landing():
    """The advertiser's site: a local page the redirect leads to."""
    app = web.Application()
    app.router.add_get(
        "/landing",
        lambda request: web.Response(text="<h1>Welcome to the shop</h1>", content_type="text/html"),
    )
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/landing"
    await runner.cleanup()


async def test_visit_ad_and_join_task_end_to_end(fake_api, bot_process, bot_env, db, landing):
    env = {
        **bot_env,
        "PUBLIC_URL": f"http://127.0.0.1:{bot_env['WEB_PORT']}",
        "ADS_JOIN_HOLD": "4s",
        "ADS_JOIN_CHECK_EVERY": "1s",
    }
    proc = bot_process(env=env)
    await proc.start(ready=fake_api.ready_when("getUpdates", timeout=90), timeout=90)
    admin = fake_api.user(ADMIN, "Root", username="root")
    for text in ("/start", "/deposit 1 BTC float", "/fund marketing 0.1 BTC"):
        await say(admin, text)
    alice = fake_api.user(ALICE, "Alice", username="alice")
    await say(alice, "/start")
    link = re.search(r"\?start=(\S+)", await say(alice, "/refer"))
    bob = fake_api.user(BOB, "Bob", username="bob")
    await say(bob, f"/start {link.group(1)}")
    carol = fake_api.user(CAROL, "Carol", username="carol")
    await say(carol, "/start")
    await say(admin, "/credit @carol 0.001 BTC ads budget")

    # Carol advertises her page; the admin approves it from the notice's button.
    quote = await say(carol, f"/advertise {landing} 5 10 0.00000100 BTC Carol's shop")
    assert "Total: 0.00001200 BTC" in quote
    await carol.tap_button("Confirm")
    review = await fake_api.wait_for("sendMessage", chat_id=ADMIN)
    assert "Carol&#x27;s shop" in review.params["text"] and landing in review.params["text"]
    assert "approved" in (await tap(fake_api, admin, "Approve")).text
    # The advertiser hears of it through the notice job; let that message land before she talks again.
    await fake_api.wait_until(
        lambda: any("approved and is running" in m.text for m in fake_api.messages(CAROL)), timeout=30
    )

    # Bob gets the ad, opens the tracking link and follows it to the page.
    ad = await say(bob, "/ads")
    assert "Carol's shop" in ad
    visit = bob.last_message().button("Visit")["url"]
    assert visit.startswith(env["PUBLIC_URL"] + "/go/")
    async with aiohttp.ClientSession() as http:
        async with http.get(visit) as page:
            assert page.status == 200 and "Welcome to the shop" in await page.text()
            assert str(page.url) == landing
        async with http.get(visit, allow_redirects=False) as again:
            assert again.status == 410  # the token is one-time
    answer = await tap(fake_api, bob, "Claim")  # before the timer: refused with the seconds left
    assert answer.kind == "text"
    await asyncio.sleep(5.2)  # the clock moves past the ad's duration
    paid = await solve(fake_api, db, bob)
    assert "Correct! 0.00000100 BTC is in your wallet" in paid.text
    stats = await say(carol, "/campaigns")
    assert "Views paid: 1" in stats and "unique viewers: 1" in stats

    # A join task: the bot is an admin of @dustchan; Dave stays, Erin leaves before the hold ends.
    assert "cannot see @dustchan" in await wizard_join(fake_api, carol)
    fake_api.set_chat_member("@dustchan", fake_api.bot_id, "administrator")
    assert "Which coin" in await say(carol, "@dustchan")
    await carol.tap_button("BTC")
    await fake_api.wait_for("sendMessage", chat_id=CAROL)
    await say(carol, "0.00000200")
    await say(carol, "3")
    await tap(fake_api, carol, "Everyone")
    await carol.tap_button("Confirm")
    await fake_api.wait_for("sendMessage", chat_id=ADMIN)
    await tap(fake_api, admin, "Approve")
    for user_id, name in ((DAVE, "Dave"), (ERIN, "Erin")):
        viewer = fake_api.user(user_id, name)
        await say(viewer, "/start")
        text = await say(viewer, "/ads")
        if "Carol's shop" in text:
            text = (await tap(fake_api, viewer, "Skip")).text
        assert "Join @dustchan" in text
        fake_api.set_chat_member("@dustchan", user_id, "member")
        held = await solve(fake_api, db, viewer)
        assert "reserved for you" in held.text
    fake_api.set_chat_member("@dustchan", ERIN, "left")
    stayed = await fake_api.wait_for("sendMessage", chat_id=DAVE, timeout=20)
    assert "is in your wallet" in stayed.params["text"]
    left = await fake_api.wait_for("sendMessage", chat_id=ERIN, timeout=20)
    assert "You left @dustchan" in left.params["text"]
    assert await proc.stop() == 0

    balance = lambda owner: db.read(ledger.balance, owner, "BTC")  # noqa: E731
    assert (await balance(user_account(BOB))).available == 100
    assert (await balance(user_account(ALICE))).available == 10  # 10% of Bob's view, from marketing
    assert (await balance(user_account(DAVE))).available == 200
    assert (await balance(user_account(ERIN))).available == 0
    assert (await balance(FEES)).available == 20 + 40
    assert (await balance(ads.escrow_of(2))).available == 3 * 240 - 240


async def wizard_join(fake_api, carol) -> str:
    await say(carol, "/advertise")
    await tap(fake_api, carol, "Join a channel")
    await say(carol, "Join us")
    await tap(fake_api, carol, "Skip")
    return await say(carol, "@dustchan")
