"""/admin's console through the real dispatcher: each button opens its screen and ⬅️ returns; the
dashboard's numbers on a hand-counted world; the settings editor by button and by typing, refusals,
audit and 2FA; a non-admin's tap refused."""

from __future__ import annotations

import pytest

from core.ops import dashboard as dash
from core.platform import audit
from tests.core.ops.world import NOW, seed
from tests.handlers.admin.test_admin_2fa import next_code
from tests.handlers.cashout.test_cashout import enable_2fa
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts

ALICE = 111


@pytest.fixture
async def admin(tg):
    person = tg.person(ADMIN, first_name="Root", username="root")
    await person.send("/start")
    return person


def labels(sent) -> list[str]:
    return [label for s in sent for label, _data in s.buttons()]


async def test_console_buttons_open_each_screen_and_back_returns(tg, db, admin):
    home = await admin.send("/admin")
    assert "Owed to users" in texts(home) and "Jobs" in texts(home)  # what /admin showed stays
    assert "2FA is off" in texts(home)
    assert labels(home) == [
        "📊 Dashboard", "👥 Users", "📤 Withdrawals", "📢 Campaigns", "⚙️ Settings", "✉️ Broadcast", "📈 Reports",
    ]  # fmt: skip
    screens = {
        "Dashboard": "Dashboard",
        "Users": "To see one user, type",
        "Withdrawals": "withdrawal",
        "Campaigns": "No ads are waiting for review.",
        "Settings": "Settings</b> by feature",
        "Reports": "choose a chart and a period",
    }
    for button, expected in screens.items():
        sent = await admin.tap_button(button)
        edits = [s for s in sent if s.method == "editMessageText"]
        assert edits and expected in edits[0].text, (button, texts(sent))
        assert edits[0].message_id == home[0].message_id  # one message, edited
        back = await admin.tap_button("⬅️ Back")
        assert "Owed to users" in texts(back) and "📊 Dashboard" in labels(back)


async def test_broadcast_button_starts_the_compose_flow(tg, db, admin):
    await admin.send("/admin")
    assert "Send the message to broadcast" in texts(await admin.tap_button("Broadcast"))
    sent = await admin.send("<b>Hello</b> all")
    assert sent[0].text == "<b>Hello</b> all"  # the preview, exactly as users will get it
    assert "Who should get it?" in texts(sent)


async def test_dashboard_shows_the_worlds_numbers(tg, db, admin, monkeypatch):
    await db.write(seed)
    monkeypatch.setattr(dash, "utcnow", lambda: NOW)
    await admin.send("/admin")
    out = texts(await admin.tap_button("Dashboard"))
    # the admin is a fourth user, seen now (real time), created now
    assert "Users: 4 · active 24 h: 2 · active 7 d: 3 · new today: 2 · blocked the bot: 1" in out
    assert "BTC: owed 0.00092400 BTC · treasury 0.09810000 BTC" in out
    assert "Fees: 0.00000500 BTC · 0.00000600 BTC" in out
    assert "Ad fees: — · 0.00000150 BTC" in out
    assert "House net from games: 0.00001300 BTC · -0.00000200 BTC" in out
    assert "BTC: 0.00058000 BTC, 58 days left" in out
    assert "<b>Pending withdrawals</b>: BTC: 1 (0.00020000 BTC)" in out and "Waiting for approval: 1" in out
    assert "The house has no BTC left" in out and "Payout batch #1 (BTC) is stuck" in out
    assert "Ads waiting for review: 1" in out


async def test_users_screen(tg, db, admin):
    await tg.person(ALICE, username="alice").send("/start")
    await admin.send("/admin")
    out = texts(await admin.tap_button("Users"))
    assert "Total: 2 · new today: 2" in out and "@alice" in out and "/user ID" in out


async def open_rate(admin):
    await admin.send("/admin")
    await admin.tap_button("Settings")
    out = texts(await admin.tap_button("broadcast"))
    assert "<code>broadcast.rate</code> = 25 <i>(default)</i> · default 25 · 1 … 30" in out
    return texts(await admin.tap_button("rate"))


async def test_settings_by_button_and_by_typing(tg, db, admin):
    params = tg.dp["params"]
    assert "Tap a value" in await open_rate(admin)
    out = texts(await admin.tap_button("Set 30"))
    assert "broadcast.rate is now 30." in out and "= 30 <i>(admin)</i>" in out
    assert params.get("broadcast.rate") == 30
    await admin.tap_button("Type a value")
    assert "broadcast.rate is now 12." in texts(await admin.send("12"))
    assert params.get("broadcast.rate") == 12
    lines = [(a.action, a.target, a.details.get("value")) for a in await db.read(audit.recent, 10)]
    assert lines[:2] == [("set_param", "broadcast.rate", "12"), ("set_param", "broadcast.rate", "30")]


@pytest.mark.parametrize("typed", ["99", "abc", "0"])
async def test_settings_refuse_out_of_range_and_wrong_type(tg, db, admin, typed):
    await open_rate(admin)
    await admin.tap_button("Type a value")
    out = texts(await admin.send(typed))
    assert "is now" not in out and "broadcast.rate" in out, out
    assert tg.dp["params"].get("broadcast.rate") == 25
    assert [a for a in await db.read(audit.recent, 10) if a.action == "set_param"] == []


async def test_settings_need_the_2fa_code(tg, db, admin):
    t = await enable_2fa(db, ADMIN)
    await open_rate(admin)
    out = texts(await admin.tap_button("Set 30"))
    assert "6-digit code" in out and "It confirms: <code>/set broadcast.rate 30</code>" in out
    assert tg.dp["params"].get("broadcast.rate") == 25
    assert "wrong" in texts(await admin.send("000000"))
    assert tg.dp["params"].get("broadcast.rate") == 25
    assert "broadcast.rate is now 30." in texts(await admin.send(next_code(t)))
    assert tg.dp["params"].get("broadcast.rate") == 30


async def test_a_non_admin_tapping_console_buttons_gets_nothing(tg, db, admin):
    home = await admin.send("/admin")
    alice = tg.person(ALICE, username="alice")
    await alice.send("/start")
    for _label, data in home[0].buttons():
        sent = await alice.tap(data, home[0])
        assert [s.method for s in sent] == ["answerCallbackQuery"]
        assert "Only admins" in sent[0].params["text"]
    sent = await alice.tap("con:setv:broadcast.rate:1", home[0])
    assert [s.method for s in sent] == ["answerCallbackQuery"]
    assert tg.dp["params"].get("broadcast.rate") == 25
