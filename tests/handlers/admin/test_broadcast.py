"""/broadcast through the real dispatcher: preview, segment, count, confirm, pause/resume/cancel,
and the bad input (broken HTML, empty segment, not an admin, a second confirm)."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendMessage

from core.money.accounts import user_account
from core.ops import broadcasts as bc
from core.platform import audit
from tests.fakes.formatting import EntityParseError, format_text
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts
from tests.money import fund

ALICE, BOB = 111, 222


@pytest.fixture
async def admin(tg):
    person = tg.person(ADMIN, first_name="Root", username="root")
    await person.send("/start")
    await tg.person(ALICE, username="alice", language_code="es").send("/start")
    await tg.person(BOB, username="bob", language_code="en").send("/start")
    return person


@pytest.fixture
def strict_html(tg):
    """Telegram's HTML parser in front of the recording session: broken HTML is a 400."""
    original = tg.session.make_request

    async def make_request(bot, method, timeout=None):
        if isinstance(method, SendMessage) and method.parse_mode == "HTML":
            try:
                format_text(method.text, "HTML", None)
            except EntityParseError as e:
                raise TelegramBadRequest(
                    method=method, message=f"Bad Request: can't parse entities: {e}"
                ) from None
        return await original(bot, method, timeout)

    tg.session.make_request = make_request


async def test_compose_preview_segment_confirm_and_control(tg, db, admin, strict_html):
    sent = await admin.send("/broadcast <b>Big</b> news\nbutton: Open https://example.com/x")
    preview = sent[0]
    assert preview.chat_id == ADMIN and preview.text == "<b>Big</b> news"
    assert preview.buttons() == [("Open", "https://example.com/x")]
    assert "Who should get it?" in texts(sent)
    assert not [s for s in sent if s.chat_id in (ALICE, BOB)]  # nothing sent to users yet

    assert "1 recipients" in texts(await admin.tap_button("Language: es"))
    await admin.tap_button("Choose another segment")
    assert "3 recipients" in texts(await admin.tap_button("Everyone"))  # the admin is a user too
    started = texts(await admin.tap_button("Confirm"))
    assert "Broadcast #1" in started and "left: 3 of 3" in started
    b = await db.read(bc.get_broadcast, 1)
    assert (b.state, b.segment, b.total) == (bc.RUNNING, "everyone", 3)
    assert b.progress_chat == ADMIN and b.progress_message is not None

    assert "paused" in texts(await admin.tap_button("Pause"))
    assert "sending" in texts(await admin.tap_button("Resume"))
    assert "cancelled" in texts(await admin.tap_button("Cancel"))
    actions = [a.action for a in await db.read(audit.recent, 20)]
    for action in (
        "broadcast_draft",
        "broadcast_start",
        "broadcast_paused",
        "broadcast_running",
        "broadcast_cancelled",
    ):
        assert action in actions


async def test_language_and_coin_segments_count_the_right_users(tg, db, admin):
    await admin.send("/broadcast hola")
    assert "1 recipients" in texts(await admin.tap_button("Language: es"))
    await admin.tap_button("Choose another segment")
    await fund(db, user_account(BOB), 500, key="bob")
    assert "1 recipients" in texts(await admin.tap_button("Holders of BTC"))
    await admin.tap_button("Choose another segment")
    assert "3 recipients" in texts(await admin.tap_button("Active in 1 d"))


async def test_broken_html_is_caught_at_preview_with_telegrams_words(tg, db, admin, strict_html):
    answer = texts(await admin.send("/broadcast <b>unclosed news"))
    assert "Telegram refused this message" in answer and "can't parse entities" in answer
    with pytest.raises(bc.BroadcastError):
        await db.read(bc.get_broadcast, 1)  # nothing stored


async def test_empty_text_and_empty_segment_change_nothing(tg, db, admin):
    assert "Write the message after the command" in texts(await admin.send("/broadcast"))
    await admin.send("/broadcast hi")
    answer = texts(await admin.tap_button("Holders of BTC"))  # nobody holds any
    assert "Nobody is in that segment" in answer
    assert (await db.read(bc.get_broadcast, 1)).state == bc.DRAFT


async def test_a_second_confirm_and_forged_segments_are_refused(tg, db, admin):
    await admin.send("/broadcast hi")
    await admin.tap_button("Everyone")
    confirm = tg.last_with_buttons(ADMIN)
    await admin.tap_button("Confirm")
    again = texts(await admin.tap(confirm.buttons()[0][1], confirm))
    assert "already confirmed" in again
    assert (await db.read(bc.get_broadcast, 1)).total == 3
    assert "not a segment" in texts(await admin.tap("bc:seg:1:coin-NOPE"))


async def test_users_cannot_broadcast_or_tap_its_buttons(tg, db, admin):
    alice = tg.person(ALICE, username="alice")
    await alice.send("/broadcast spam")
    await alice.tap("bc:go:1:everyone")
    with pytest.raises(bc.BroadcastError):
        await db.read(bc.get_broadcast, 1)


async def test_progress_view_shows_time_left(db, admin):
    from handlers.admin.broadcast import progress_view
    from handlers.common.i18n import get_i18n

    b = bc.Broadcast(7, ADMIN, "x", None, None, None, "everyone", bc.RUNNING, 100, None, None, None)
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale("en"):
        text, markup = progress_view(b, bc.Progress(bc.RUNNING, 100, 40, 2, 3, 55), 125.0)
    assert "Sent: 40" in text and "left: 55 of 100" in text and "2 min 5 s" in text
    assert [btn.text for row in markup.inline_keyboard for btn in row] == ["Pause", "Cancel"]


async def test_level_and_staking_segments_count_the_right_users(tg, db, admin):
    from core.money import ledger

    def points_and_stakes(conn):
        # Alice earned 1,500 RP (level 1 with the default rp.levels 1000:1%,...); Bob stakes DUST.
        ledger.transfer(
            conn, debit="world", credit="marketing", asset="RP", amount=2_000, code="deposit", key="rp"
        )
        ledger.transfer(conn, debit="marketing", credit=user_account(ALICE), asset="RP", amount=1_500,
                        code="rp_faucet", key="rp-alice")  # fmt: skip
        ledger.transfer(
            conn, debit="world", credit="treasury", asset="DUST", amount=10**9, code="deposit", key="d"
        )
        ledger.transfer(conn, debit="treasury", credit=f"staking:user:{BOB}", asset="DUST", amount=10**8,
                        code="stake", key="stake-bob")  # fmt: skip

    await db.write(points_and_stakes)
    sent = await admin.send("/broadcast for the loyal")
    labels = [label for s in sent for label, _data in s.buttons()]
    assert [f"Level {n}" for n in range(5)] == [x for x in labels if x.startswith("Level")]
    assert "2 recipients" in texts(await admin.tap_button("Level 0"))  # the admin and Bob
    await admin.tap_button("Choose another segment")
    assert "1 recipients" in texts(await admin.tap_button("Level 1"))
    await admin.tap_button("Choose another segment")
    assert "Nobody is in that segment" in texts(await admin.tap_button("Level 4"))
    assert "Nobody is in that segment" in texts(await admin.tap("bc:seg:1:level-9"))  # no such level
    assert "1 recipients" in texts(await admin.tap_button("Staking DUST"))
    await admin.tap_button("Choose another segment")
    assert "2 recipients" in texts(await admin.tap_button("Not staking"))
    await admin.tap_button("Confirm")
    assert set(await db.read(bc.recipients, 1)) == {ADMIN, ALICE}
    assert (await db.read(bc.get_broadcast, 1)).segment == "staking:no"
