"""/advertise, /campaigns, /review and /ads through the real dispatcher; /go/<token> over real HTTP."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from aiogram import Bot
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from core.earn import ads
from core.earn.tables import ad_campaigns, ad_views
from core.identity import captcha
from core.identity.users import upsert_user
from core.money.accounts import FEES, user_account
from core.platform.params import Params
from handlers.dispatcher import build_dispatcher
from handlers.web import build_web_app
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import BOT_ID, BOT_TOKEN, RecordingSession, texts
from tests.money import available, fund

ADV, VIEWER = 500, 600
ONE_LINE = "/advertise https://shop.example/x 5 10 0.00000100 BTC My shop"


def answers(sent):
    return " ".join(s.params.get("text", "") for s in sent if s.method == "answerCallbackQuery")


async def escrow_total(db):
    rows = await db.read(lambda c: c.execute(select(ad_campaigns.c.id)).all())
    return sum([await available(db, ads.escrow_of(r.id)) for r in rows])


async def live_campaign(tg, db, line=ONE_LINE, funds=1200):
    """The advertiser buys 10 views at 100 sat (+20 fee each) and the admin approves them."""
    adv, admin = tg.person(ADV, username="adv"), tg.person(ADMIN, username="root")
    await adv.send("/start")
    await admin.send("/start")
    await fund(db, user_account(ADV), funds, key=f"adv{funds}")
    quote = texts(await adv.send(line))
    sent = await adv.tap_button("Confirm")
    review = next(s for s in sent if s.chat_id == ADMIN)
    assert "Approve" in review.buttons()[0][0]
    assert "approved" in texts(await admin.tap(review.buttons()[0][1], review))
    return adv, admin, quote


async def open_link(db, sent, *, ago=10):
    """What the tracking route does on the first open (tested over HTTP below), then time passes."""
    link = next(url for text, url in sent[-1].buttons() if "Visit" in text)
    token = urlsplit(link).path.rsplit("/", 1)[-1]
    from core.earn import ad_tokens
    from core.platform.schema import utcnow

    now = int(utcnow().timestamp())
    await db.write(ads.start_visit, ad_tokens.read("k" * 40, token, now=now, ttl=600))
    await backdate(db, ago)
    return link


async def backdate(db, ago):
    from core.platform.schema import utcnow

    await db.write(
        lambda c: c.execute(
            update(ad_views)
            .values(started_at=utcnow() - timedelta(seconds=ago))
            .where(ad_views.c.token_hash.is_not(None))
        )
    )


async def answer_of(db, puzzle) -> str:
    """The callback data of the right number (a person reads it off the picture)."""
    label = await right(db, puzzle)
    return next(d for t, d in puzzle.buttons() if t == label)


async def right(db, photo) -> str:
    cid = int(next(d for _, d in photo.buttons() if d.startswith("aq:")).split(":")[1])
    t = captcha.challenges
    return str(await db.read(lambda c: c.execute(select(t.c.answer).where(t.c.id == cid)).scalar_one()) + 1)


async def test_advertise_approve_view_claim_and_campaign_numbers(tg, db):
    adv, admin, quote = await live_campaign(tg, db)
    assert "10 views × 0.00000100 BTC = 0.00001000 BTC" in quote
    assert "Platform fee (20%): 0.00000200 BTC" in quote and "Total: 0.00001200 BTC" in quote
    assert await escrow_total(db) == 1200
    viewer = tg.person(VIEWER, username="viewer")
    await viewer.send("/start")
    ad = await viewer.send("/ads")
    assert "My shop" in texts(ad) and "0.00000100 BTC" in texts(ad)
    assert [t for t, _ in ad[-1].buttons()][:4] == ["🔗 Visit", "✅ Claim", "⏭ Skip", "🚩 Report"]
    assert "Open the ad with its Visit button first" in answers(await viewer.tap_button("Claim"))
    await open_link(db, ad, ago=2)
    assert "Too early: stay on the site 3 s more" in answers(await viewer.tap_button("Claim"))
    await backdate(db, 10)
    puzzle = next(s for s in await viewer.tap_button("Claim") if s.method == "sendPhoto")
    assert "Tap its number to claim 0.00000100 BTC" in puzzle.text
    paid = await viewer.tap(await answer_of(db, puzzle), puzzle)
    assert "Correct! 0.00000100 BTC is in your wallet" in texts(paid)
    assert await available(db, user_account(VIEWER)) == 100 and await available(db, FEES) == 20
    assert "Ad reward" in texts(await viewer.send("/history"))
    stats = texts(await adv.send("/campaigns"))
    assert "Views paid: 1 · unique viewers: 1 · visits started: 1 · completion: 100%" in stats
    assert "budget left: 0.00001080 BTC (9 views)" in stats
    again = texts(await viewer.send("/ads"))
    assert "No ads right now. Look again in" in again


async def test_bad_input_gets_a_clear_answer_and_moves_nothing(tg, db):
    adv = tg.person(ADV)
    await adv.send("/start")
    await fund(db, user_account(ADV), 1000)
    cases = {
        "/advertise javascript:alert(1) 5 10 0.00000100 BTC Hi": "not a web address",
        "/advertise data:text/html,hi 5 10 0.00000100 BTC Hi": "not a web address",
        "/advertise https://a.example 5 10 0.00000001 BTC Hi": "at least 0.00000010 BTC",
        "/advertise https://a.example 5 0 0.00000100 BTC Hi": "number of views must be",
        "/advertise https://a.example 3 10 0.00000100 BTC Hi": "5 to 60 seconds",
        f"/advertise https://a.example 5 10 0.00000100 BTC {'x' * 41}": "at most 40 characters",
        "/advertise https://a.example 5 10 0.00000100 BTC Hi": "Not enough funds",  # 1200 > 1000
        "/advertise https://a.example 5 -3 0.00000100 BTC Hi": "Send /advertise",
    }
    for line, expected in cases.items():
        assert expected in texts(await adv.send(line)), line
    assert await available(db, user_account(ADV)) == 1000
    # the same checks, step by step
    await adv.send("/advertise")
    await adv.tap_button("Visit a site")
    assert "at most 40 characters" in texts(await adv.send("y" * 41))
    await adv.send("A fine title")
    assert "at most 120 characters" in texts(await adv.send("d" * 121))
    await adv.send("Short description")
    assert "not a web address" in texts(await adv.send("javascript:alert(1)"))
    await adv.send("https://fine.example")
    await adv.tap_button("10 s")
    await adv.tap_button("BTC")
    assert "at least 0.00000010 BTC" in texts(await adv.send("0.00000001"))
    await adv.send("0.00000100")
    assert "number of views must be" in texts(await adv.send("0"))
    await adv.send("8")
    quote = texts(await adv.tap_button("Everyone"))
    assert "8 views × 0.00000100 BTC" in quote and "Total: 0.00000960 BTC" in quote
    await adv.tap_button("Confirm")
    assert await available(db, user_account(ADV)) == 1000 - 960


async def test_forged_and_stale_buttons(tg, db):
    adv, admin, _quote = await live_campaign(tg, db)
    mallory = tg.person(VIEWER)
    await mallory.send("/start")
    await fund(db, user_account(VIEWER), 5000, key="m")
    await mallory.send(ONE_LINE)
    draft = tg.last_with_buttons(VIEWER)
    # Another's draft (or a campaign) by id: refused, nothing moves.
    assert "does not exist" in answers(await adv.tap("cp:confirm:2:0", draft)) + texts(
        await adv.tap("cp:confirm:2:0", draft)
    )
    assert "does not exist" in texts(await mallory.tap("cp:cancel:1:0", draft)) + answers(
        await mallory.tap("cp:pause:1:0", draft)
    )
    await mallory.tap_button("Confirm")
    before = await available(db, user_account(VIEWER))
    assert "already confirmed" in texts(await mallory.tap("cp:confirm:2:0", draft)) + answers(
        await mallory.tap("cp:confirm:2:0", draft)
    )
    assert await available(db, user_account(VIEWER)) == before
    # A non-admin's Approve is not even seen; a second verdict is refused.
    await mallory.tap("rv:ok:2", draft)
    assert (
        await db.read(
            lambda c: c.execute(select(ad_campaigns.c.status).where(ad_campaigns.c.id == 2)).scalar()
        )
        == "review"
    )
    review = tg.last_with_buttons(ADMIN)
    assert "approved" in texts(await admin.tap("rv:ok:2", review))
    assert "not waiting for review" in texts(await admin.tap("rv:ok:2", review)) + answers(
        await admin.tap("rv:ok:2", review)
    )
    for forged in ("aq:1:9:0", "aq:-1:0:0", "ad:claim:0", f"ad:claim:{10**19}", "cp:topup:1:7", "av:dur:7"):
        sent = await mallory.tap(forged, draft)
        assert not any(s.method in ("sendMessage", "sendPhoto") and "Correct" in (s.text or "") for s in sent)
    assert "step is over" in texts(await mallory.tap("av:dur:10", draft))
    assert await available(db, user_account(VIEWER)) == before


async def test_second_claim_and_claim_after_pause_or_budget(tg, db):
    adv, _admin, _q = await live_campaign(
        tg, db, "/advertise https://shop.example/x 5 1 0.00000100 BTC One view", funds=120
    )
    a, b = tg.person(VIEWER), tg.person(VIEWER + 1)
    for p in (a, b):
        await p.send("/start")
    ad_a, ad_b = await a.send("/ads"), await b.send("/ads")
    await open_link(db, ad_a)
    await open_link(db, ad_b)
    puzzle = next(s for s in await a.tap_button("Claim") if s.method == "sendPhoto")
    await a.tap(await answer_of(db, puzzle), puzzle)
    assert "already paid" in answers(await a.tap("ad:claim:1", ad_a[-1]))  # a second claim
    assert "budget is spent" in answers(await b.tap("ad:claim:1", ad_b[-1]))  # the budget ran out
    await fund(db, user_account(ADV), 240, key="more")
    await adv.send("/campaigns")
    await adv.tap_button("Top up #1")
    refused = await adv.tap_button("+10 views")
    assert "Not enough funds" in answers(refused) + texts(refused)
    assert await escrow_total(db) == 0  # 10 views cost 1200: more than the 240 the advertiser has
    await adv.send("/campaigns")
    await adv.tap_button("Pause #1")
    assert "paused" in answers(await b.tap("ad:claim:1", ad_b[-1]))
    assert await available(db, user_account(VIEWER + 1)) == 0


async def test_cancel_returns_the_unspent_budget_at_once(tg, db):
    adv, _admin, _q = await live_campaign(tg, db)
    await adv.send("/campaigns")
    out = answers(await adv.tap_button("Cancel #1"))
    assert "0.00001200 BTC is back in your wallet" in out
    assert await available(db, user_account(ADV)) == 1200 and await escrow_total(db) == 0


async def test_reject_with_reason_reaches_the_advertiser(tg, db):
    adv, admin = tg.person(ADV), tg.person(ADMIN)
    await adv.send("/start")
    await admin.send("/start")
    await fund(db, user_account(ADV), 1200)
    await adv.send(ONE_LINE)
    await adv.tap_button("Confirm")
    assert await available(db, user_account(ADV)) == 0
    assert "My shop" in texts(await admin.send("/review"))
    await admin.tap_button("Reject")
    assert "rejected" in texts(await admin.send("Misleading page"))
    assert await available(db, user_account(ADV)) == 1200
    from core.platform import notices

    queued = await db.read(
        lambda c: (
            c.execute(select(notices.notices.c.params).where(notices.notices.c.chat_id == ADV))
            .scalars()
            .all()
        )
    )
    assert any("Misleading page" in p for p in queued)
    assert "No ads are waiting" in texts(await admin.send("/review"))


async def test_join_task_needs_the_bot_as_admin_and_a_member(tg, db):
    session = tg.session
    adv = tg.person(ADV)
    await adv.send("/start")
    await fund(db, user_account(ADV), 10_000)
    await adv.send("/advertise")
    await adv.tap_button("Join a channel")
    await adv.send("Join us")
    await adv.tap_button("Skip")
    session.unknown_chats.add("@dustchan")
    assert "cannot see @dustchan" in texts(await adv.send("@dustchan"))
    session.unknown_chats.discard("@dustchan")
    assert "not an admin of @dustchan" in texts(await adv.send("@dustchan"))
    session.chat_members[("@dustchan", BOT_ID)] = "administrator"
    assert "Which coin" in texts(await adv.send("https://t.me/dustchan"))
    await adv.tap_button("BTC")
    await adv.send("0.00000100")
    await adv.send("5")
    await adv.tap_button("Everyone")
    await adv.tap_button("Confirm")
    admin = tg.person(ADMIN)
    await admin.send("/review")
    await admin.tap_button("Approve")
    viewer = tg.person(VIEWER)
    await viewer.send("/start")
    ad = await viewer.send("/ads")
    assert ("➕ Join @dustchan", "https://t.me/dustchan") in ad[-1].buttons()
    assert "not a member of @dustchan" in answers(await viewer.tap_button("Claim"))
    session.chat_members[("@dustchan", VIEWER)] = "member"
    puzzle = next(s for s in await viewer.tap_button("Claim") if s.method == "sendPhoto")
    held = await viewer.tap(await answer_of(db, puzzle), puzzle)
    assert "reserved for you and paid in" in texts(held)
    assert await available(db, user_account(VIEWER)) == 0


@pytest.fixture
async def http(settings, db):
    await db.write(upsert_user, id=VIEWER, username="v", first_name="V", language_code="es")
    bot = Bot(BOT_TOKEN, session=RecordingSession())
    app = build_web_app(settings, build_dispatcher(settings, db, params=Params(env={})), bot, db)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def test_tracking_link_redirects_once_and_explains_refusals(tg, db, http):
    from core.earn import ad_tokens
    from core.platform.schema import utcnow

    await live_campaign(tg, db)
    now = int(utcnow().timestamp())
    good = ad_tokens.make("k" * 40, 1, VIEWER, now)
    r = await http.get(f"/go/{good}", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "https://shop.example/x"
    again = await http.get(f"/go/{good}", allow_redirects=False)
    assert again.status == 410 and "<html" in await again.text()
    assert 'lang="es"' in await again.text()  # in the viewer's language
    for bad in (good[:-3], good[:-1] + ("A" if good[-1] != "A" else "B"), "1.2.3.x", "", "%3Cscript%3E"):
        page = await http.get(f"/go/{bad}", allow_redirects=False)
        body = await page.text()
        assert page.status == 404 and "not valid" in body and 'lang="en"' in body, bad
    expired = ad_tokens.make("k" * 40, 1, VIEWER, now - 601)
    page = await http.get(f"/go/{expired}", allow_redirects=False)
    assert page.status == 410
    views = await db.read(lambda c: c.execute(select(ad_views.c.id)).all())
    assert len(views) == 1  # only the first open was recorded


async def test_a_stolen_admin_session_cannot_approve_or_reject_without_the_code(tg, db):
    from datetime import UTC, datetime

    from tests.handlers.cashout.test_cashout import enable_2fa

    adv, admin = tg.person(ADV), tg.person(ADMIN)
    await adv.send("/start")
    await admin.send("/start")
    await fund(db, user_account(ADV), 2400)
    for _ in range(2):
        await adv.send(ONE_LINE)
        await adv.tap_button("Confirm")
    t = await enable_2fa(db, ADMIN)

    def status():
        return db.read(
            lambda c: c.execute(select(ad_campaigns.c.status).order_by(ad_campaigns.c.id)).scalars().all()
        )

    await admin.send("/review")
    assert "6-digit code" in texts(await admin.tap("rv:ok:1", tg.last_with_buttons(ADMIN)))
    assert "wrong" in texts(await admin.send("000000"))
    assert await status() == ["review", "review"] and await escrow_total(db) == 0
    await admin.tap("rv:no:2", tg.last_with_buttons(ADMIN))
    assert "6-digit code" in texts(await admin.send("spam"))
    assert "wrong" in texts(await admin.send("000000"))
    assert await status() == ["review", "review"]
    await admin.tap("rv:ok:1", tg.last_with_buttons(ADMIN))
    assert "approved" in texts(await admin.send(t.at(datetime.now(UTC))))
    assert await status() == ["active", "review"] and await escrow_total(db) == 1200


async def test_admin_finds_a_view_and_marks_it_invalid(tg, db):
    from core.money.accounts import TREASURY

    await live_campaign(tg, db)
    admin, viewer = tg.person(ADMIN), tg.person(VIEWER)
    await viewer.send("/start")
    ad = await viewer.send("/ads")
    await open_link(db, ad)
    puzzle = next(s for s in await viewer.tap_button("Claim") if s.method == "sendPhoto")
    await viewer.tap(await answer_of(db, puzzle), puzzle)
    listing = texts(await admin.send("/review 1"))
    assert "Not enough BTC" in texts(await admin.send("/invalidview 1"))  # the treasury is empty
    await admin.send("/deposit 1 BTC float")
    assert f"#1 · {VIEWER} · paid" in listing
    treasury = await available(db, TREASURY)
    assert "viewer had been paid already" in texts(await admin.send("/invalidview 1"))
    assert await escrow_total(db) == 1200 and await available(db, user_account(VIEWER)) == 100
    assert await available(db, TREASURY) == treasury - 100 and await available(db, FEES) == 0
    assert "not a paid or held view" in texts(await admin.send("/invalidview 1"))
    assert "Usage" in texts(await admin.send("/invalidview x"))
    assert "Views paid: 0" in texts(await tg.person(ADV).send("/campaigns"))


async def test_a_new_url_or_title_sends_a_live_campaign_back_to_review(tg, db):
    adv, admin, _q = await live_campaign(tg, db)
    viewer = tg.person(VIEWER)
    await viewer.send("/start")
    assert "Usage: /campaigns ID" in texts(await adv.send("/campaigns 1 url"))
    assert "not a web address" in texts(await adv.send("/campaigns 1 url javascript:alert(1)"))
    sent = await adv.send("/campaigns 1 url https://other.example/page")
    assert "paused until an admin reviews it again" in texts(sent)
    review = next(s for s in sent if s.chat_id == ADMIN)
    assert "https://other.example/page" in review.text
    assert "No ads right now" in texts(await viewer.send("/ads"))  # not shown meanwhile
    assert "does not exist" in texts(await viewer.send("/campaigns 1 title Mine now"))  # another's campaign
    await admin.tap(review.buttons()[0][1], review)
    assert "My shop" in texts(await viewer.send("/ads"))
    assert await escrow_total(db) == 1200  # the budget stayed where it was
    assert "changed." in texts(await adv.send("/campaigns 1 description Better words"))
