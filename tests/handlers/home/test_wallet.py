"""/start, /balance, /history, /language and /help through the real dispatcher."""

from core.identity.users import get_user
from core.money.accounts import user_account
from tests.handlers.harness import texts
from tests.money import fund

ALICE = 111


async def pay(db, user_id, amount, asset="BTC", key="gift", code="admin_credit"):
    await fund(db, user_account(user_id), amount, asset, key=key, code=code)


async def test_start_registers_and_shows_menu(tg, db):
    alice = tg.person(ALICE, first_name="Alice", language_code="en")
    sent = await alice.send("/start")
    assert len(sent) == 1 and "Hi, Alice!" in sent[0].text
    labels = [b[0] for b in sent[0].buttons()]
    assert "💰 Balance" in labels and "📜 History" in labels
    user = await db.read(get_user, ALICE)
    assert user.language_code == "en" and user.started_at is not None
    again = await alice.send("/start")  # harmless
    assert "Hi, Alice!" in again[0].text


async def test_start_keeps_deep_link_payload_of_first_start_only(tg, db):
    bob = tg.person(222, first_name="Bob")
    await bob.send("/start ref_abc123")
    await bob.send("/start other")
    assert (await db.read(get_user, 222)).start_payload == "ref_abc123"
    eve = tg.person(333, first_name="Eve")
    await eve.send("/start <script>")  # not a valid payload: ignored quietly
    assert (await db.read(get_user, 333)).start_payload is None


async def test_balance_shows_every_asset_in_coin_units(tg, db):
    alice = tg.person(ALICE)
    await alice.send("/start")
    await pay(db, ALICE, 1234)
    out = texts(await alice.send("/balance"))
    assert "0.00001234 BTC" in out
    out = texts(await alice.tap_button("Show all coins"))  # issue 12: zeros only on request
    for line in ("0.00000000 LTC", "0.00000000 DOGE", "0.000000 USDT", "0.000000 TRX", "0.00000000 DUST"):
        assert line in out


async def test_balance_button_edits_the_menu(tg, db):
    alice = tg.person(ALICE)
    await alice.send("/start")
    sent = await alice.tap_button("Balance")
    edit = [s for s in sent if s.method == "editMessageText"]
    assert edit and "Nothing yet" in edit[0].text  # issue 12: a new user gets no six zeros
    assert any(s.method == "answerCallbackQuery" for s in sent)


async def test_history_newest_first_with_paging(tg, db):
    alice = tg.person(ALICE)
    await alice.send("/start")
    for i in range(12):
        await pay(db, ALICE, 100 + i, key=f"gift:{i}")
    first = (await alice.send("/history"))[0]
    assert "page 1 of 2" in first.text
    assert first.text.index("0.00000111 BTC") < first.text.index("0.00000110 BTC")  # newest first
    assert "Credit from the Dustpan team" in first.text
    older = await alice.tap_button("Older")
    page2 = [s for s in older if s.method == "editMessageText"][0]
    assert "page 2 of 2" in page2.text and "0.00000100 BTC" in page2.text
    assert "0.00000111 BTC" not in page2.text


async def test_history_empty(tg):
    alice = tg.person(ALICE)
    assert "No movements yet" in texts(await alice.send("/history"))


async def test_language_choice_beats_language_code(tg, db):
    alice = tg.person(ALICE, language_code="en")
    await alice.send("/start")
    await alice.send("/language")
    sent = await alice.tap_button("Español")
    assert "Idioma cambiado a español." in texts(sent)
    assert (await db.read(get_user, ALICE)).language == "es"
    out = texts(await alice.send("/balance"))
    assert "Tu saldo" in out


async def test_language_code_used_until_a_choice_is_made(tg):
    ivan = tg.person(444, first_name="Ivan", language_code="ru")
    assert "Привет, Ivan!" in texts(await ivan.send("/start"))
    budi = tg.person(555, first_name="Budi", language_code="in")  # old Android code for Indonesian
    assert "Hai, Budi!" in texts(await budi.send("/start"))
    ana = tg.person(666, first_name="Ana", language_code="pt-br")
    assert "Olá, Ana!" in texts(await ana.send("/start"))
    kim = tg.person(777, first_name="Kim", language_code="ko")
    assert "Hi, Kim!" in texts(await kim.send("/start"))


async def test_help_in_users_language(tg):
    ana = tg.person(666, language_code="pt")
    out = texts(await ana.send("/help"))
    assert "/balance" in out and "Seu saldo em cada moeda" in out


async def test_unknown_command_and_forged_callback(tg, db):
    alice = tg.person(ALICE)
    assert "don't know that command" in texts(await alice.send("/nonsense"))
    await alice.send("/start")
    for forged in ("h:-1", "h:abc", "l:xx", "m:nowhere", "zzz", "h:99999999"):
        sent = await alice.tap(forged)
        answer = [s for s in sent if s.method == "answerCallbackQuery"]
        assert answer and "no longer valid" in answer[0].text, forged


async def test_flood_of_taps_gets_one_notice(settings, db):
    from aiogram import Bot

    from core.platform.params import Params
    from handlers.dispatcher import build_dispatcher
    from handlers.middlewares import Throttle
    from tests.handlers.harness import BOT_TOKEN, RecordingSession, Telegram

    session = RecordingSession()
    dp = build_dispatcher(settings, db, params=Params(env={}), throttle=Throttle(limit=5, window=60))
    tg = Telegram(dp, Bot(BOT_TOKEN, session=session), session)
    alice = tg.person(ALICE)
    replies = [await alice.send("/balance") for _ in range(20)]
    notices = [s for r in replies for s in r if "Too many taps" in (s.text or "")]
    answered = [r for r in replies if r and "Too many taps" not in (r[0].text or "")]
    assert len(notices) == 1 and len(answered) == 5


async def test_a_burst_of_taps_is_cut_short_with_one_notice(settings, db):
    """Twenty taps arriving at once: a few are handled, one notice, the rest dropped quietly.
    The same twenty sent one after another (each answered first) all get their answer."""
    import asyncio

    from aiogram import Bot

    from core.platform.params import Params
    from handlers.dispatcher import build_dispatcher
    from tests.handlers.harness import BOT_TOKEN, RecordingSession, Telegram

    session = RecordingSession()
    dp = build_dispatcher(settings, db, params=Params(env={}))
    tg = Telegram(dp, Bot(BOT_TOKEN, session=session), session)
    alice = tg.person(ALICE)
    for _ in range(20):
        assert "Your balance" in texts(await alice.send("/balance"))
    before = len(session.sent)
    await asyncio.gather(*(alice.send("/balance") for _ in range(20)))
    burst = session.sent[before:]
    answered = [s for s in burst if "Your balance" in (s.text or "")]
    notices = [s for s in burst if "Too many taps" in (s.text or "")]
    assert len(notices) == 1 and 1 <= len(answered) <= 4
