"""/faucet and /refer through the real dispatcher."""

from sqlalchemy import select

from core.earn import referrals
from core.identity import captcha
from core.identity.users import get_user
from core.money.accounts import FAUCET_POOL, MARKETING, user_account
from tests.handlers.harness import texts
from tests.money import available, fund

ALICE, BOB = 111, 222


def edits(sent):
    return [s for s in sent if s.method in ("editMessageText", "editMessageCaption", "editMessageMedia")]


async def right_label(db, msg) -> str:
    """The button a person who looked at the picture taps (the answer is read from the server)."""
    challenge_id = int(next(data for _, data in msg.buttons() if data.startswith("fq:")).split(":")[1])
    t = captcha.challenges
    right = await db.read(lambda c: c.execute(select(t.c.answer).where(t.c.id == challenge_id)).scalar())
    return str(right + 1)


async def open_captcha(person, db):
    await person.send("/faucet")
    sent = await person.tap_button("BTC")
    msg = next(s for s in sent if s.method in ("sendPhoto", "editMessageMedia"))
    assert "Tap its number to claim 0.00000100 BTC" in msg.text
    return msg, await right_label(db, msg)


async def test_claim_with_captcha(tg, db):
    await fund(db, FAUCET_POOL, 100_000)
    alice = tg.person(ALICE)
    await alice.send("/start")
    msg, target = await open_captcha(alice, db)
    assert [b[0] for b in msg.buttons() if b[1].startswith("fq:")] == ["1", "2", "3", "4", "5", "6"]
    out = edits(await alice.tap_button(target))[0].text
    assert "Correct! 0.00000100 BTC is in your wallet" in out and "Next BTC claim in " in out
    assert await available(db, user_account(ALICE)) == 100
    again = await alice.tap_button("New puzzle")
    answers = [s for s in again if s.method == "answerCallbackQuery"]
    assert "Next claim in" in answers[0].text  # too early: refused with the time left
    assert "Faucet claim" in texts(await alice.send("/history"))


async def test_wrong_answer_and_replayed_answer(tg, db):
    await fund(db, FAUCET_POOL, 100_000)
    alice = tg.person(ALICE)
    msg, target = await open_captcha(alice, db)
    wrong = next(data for text, data in msg.buttons() if data.startswith("fq:") and text != target)
    right = next(data for text, data in msg.buttons() if text == target)
    assert "Wrong answer" in edits(await alice.tap(wrong, msg))[0].text
    replay = await alice.tap(right, msg)  # the same challenge cannot be answered twice
    assert "already answered" in [s for s in replay if s.method == "answerCallbackQuery"][0].text
    assert await available(db, user_account(ALICE)) == 0


async def test_an_older_puzzle_is_retired_by_a_newer_one(tg, db):
    await fund(db, FAUCET_POOL, 100_000)
    alice = tg.person(ALICE)
    old, old_target = await open_captcha(alice, db)
    new, new_target = await open_captcha(alice, db)  # a second device, or /faucet again
    stale = next(data for text, data in old.buttons() if text == old_target)
    sent = await alice.tap(stale, old)
    assert (
        "A newer puzzle replaced this one" in [s for s in sent if s.method == "answerCallbackQuery"][0].text
    )
    assert await available(db, user_account(ALICE)) == 0
    assert "Correct!" in edits(await alice.tap_button(new_target))[0].text
    assert await available(db, user_account(ALICE)) == 100


async def test_forged_callbacks_fall_through(tg, db):
    alice = tg.person(ALICE)
    await alice.send("/start")
    for forged in ("fa:XYZ", "fq:1:9", "fq:-1:0", "fq:abc:1", "fq:1", f"fq:{10**19}:0"):
        sent = await alice.tap(forged)
        assert "no longer valid" in [s for s in sent if s.method == "answerCallbackQuery"][0].text, forged
    sent = await alice.tap("fq:4242:1")  # well formed but not a challenge of hers
    assert "not yours" in [s for s in sent if s.method == "answerCallbackQuery"][0].text


async def test_dry_faucet(tg, db):
    alice = tg.person(ALICE)
    await alice.send("/faucet")
    # issue 12: the picker marks the dry coin; its button says so and opens no puzzle
    alert = [s for s in await alice.tap_button("BTC") if s.method == "answerCallbackQuery"][0].text
    assert "faucet is dry" in alert
    sent = edits(await alice.tap("fa:BTC"))[0]  # an older picker's button
    assert "faucet is dry" in sent.text and not any("New puzzle" in b[0] for b in sent.buttons())
    assert await available(db, user_account(ALICE)) == 0


async def test_asset_without_faucet(tg, db):
    alice = tg.person(ALICE)
    await alice.send("/faucet")
    sent = await alice.tap("fa:USDT")
    assert "no faucet for USDT" in [s for s in sent if s.method == "answerCallbackQuery"][0].text


async def test_refer_link_and_referred_claim(tg, db):
    await fund(db, FAUCET_POOL, 100_000)
    await fund(db, MARKETING, 100_000, key="m")
    alice = tg.person(ALICE)
    out = await alice.send("/refer")
    code = referrals.invite_code(ALICE)
    assert f"https://t.me/dustpan_test_bot?start={code}" in out[0].text
    assert any(url and url.startswith("https://t.me/share/url?url=") for _, url in out[0].buttons())
    bob = tg.person(BOB, first_name="Bob", username="bob")
    await bob.send(f"/start {code}")
    assert (await db.read(get_user, BOB)).start_payload == code
    _msg, target = await open_captcha(bob, db)
    await bob.tap_button(target)
    assert await available(db, user_account(BOB)) == 100
    assert await available(db, user_account(ALICE)) == 10
    stats = texts(await alice.send("/refer"))
    assert "People invited: 1 (active: 1)" in stats and "0.00000010 BTC" in stats
    assert "Referral commission" in texts(await alice.send("/history"))


async def test_menu_has_faucet_and_refer(tg):
    sent = await tg.person(ALICE).send("/start")
    labels = [b[0] for b in sent[0].buttons()]
    assert "🚰 Faucet" in labels and "🤝 Invite friends" in labels
