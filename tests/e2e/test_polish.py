"""Issue 12 end to end (bot.py against the fake Bot API): bursts of taps and commands, and a
token Telegram refuses or a Telegram that cannot be reached."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.timeout(90)

NOTICE = "Easy there"


def errors(api, start: int) -> list:
    """Calls since ``start`` that Telegram answered with an error (a long poll still open is not one)."""
    return [
        c for c in api.calls[start:] if c.status is not None and c.status != 200 and c.method != "getUpdates"
    ]


async def test_burst_every_tap_answered_once_and_one_notice_for_commands(fake_api, bot_process, bot_env, db):
    proc = bot_process(env=bot_env)
    await proc.start(ready=fake_api.ready_when("getUpdates", timeout=60), timeout=60)
    alice = fake_api.user(1201, "Alice", username="alice12", language_code="en")
    await alice.send("/start")
    await alice.wait_for("sendMessage")
    menu = alice.last_message()

    # ten quick taps on the same button: every one answered, exactly once, nothing spinning
    start = fake_api.mark()
    taps = [await alice.tap(menu, "m:balance") for _ in range(10)]
    await fake_api.wait_until(lambda: all(fake_api.callback_answer(t) is not None for t in taps), timeout=20)
    await asyncio.sleep(0.5)  # a second answer, if any, would arrive now
    answers = [c for c in fake_api.calls[start:] if c.method == "answerCallbackQuery"]
    assert sorted(c.params["callback_query_id"] for c in answers) == sorted(
        t["callback_query"]["id"] for t in taps
    )
    assert not errors(fake_api, start)

    # eight quick /balance: each one a balance, or the one polite notice for the dropped ones
    await asyncio.sleep(1.2)
    start = fake_api.mark()
    for _ in range(8):
        await alice.send("/balance")
    await asyncio.sleep(3)
    sent = [c for c in fake_api.calls[start:] if c.method == "sendMessage"]
    balances = [c for c in sent if "Your balance" in c.params["text"]]
    notices = [c for c in sent if NOTICE in c.params["text"]]
    assert len(balances) + len(notices) >= 8 or len(notices) == 1, [c.params["text"][:30] for c in sent]
    assert len(notices) <= 1
    assert len(balances) == 8 or len(notices) == 1
    assert not errors(fake_api, start)
    assert "Traceback" not in proc.output()
    assert await proc.stop() == 0


async def test_a_token_telegram_refuses_ends_in_one_clear_line(fake_api, bot_process, bot_env, db):
    proc = bot_process(env={**bot_env, "BOT_TOKEN": "654321:AAFwrongButWellFormedToken_0123456789"})
    await proc.start()
    assert await proc.wait(timeout=60) == 1
    out = proc.output()
    assert "Telegram refused the bot token (401 Unauthorized): check BOT_TOKEN" in out
    assert "Traceback" not in out and out.count("ERROR") == 1
    assert "wellFormed" not in out and "AAFwrong" not in out  # the token itself is never logged
    assert [c.method for c in fake_api.calls] == ["getMe"]


async def test_unreachable_telegram_is_retried_with_back_off_then_stops_cleanly(fake_api, bot_process, bot_env, db):
    from tests.e2e.conftest import free_port

    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = bot_process(env={**bot_env, "TELEGRAM_API_URL": nowhere, "LOG_LEVEL": "INFO"})
    await proc.start()
    await proc.wait_for_output("trying again in 4 s", timeout=60)
    assert await proc.stop() == 0
    out = proc.output()
    lines = [line for line in out.splitlines() if "cannot reach Telegram" in line]
    assert [line.split("trying again in ")[1] for line in lines[:3]] == ["1 s", "2 s", "4 s"]
    assert "Traceback" not in out and "stopped" in out


async def test_start_up_logs_are_quiet(fake_api, bot_process, bot_env, db):
    proc = bot_process(env={**bot_env, "LOG_LEVEL": "INFO"})
    await proc.start(ready=fake_api.ready_when("getUpdates", timeout=60), timeout=60)
    assert await proc.stop() == 0
    out = proc.output()
    assert "setup plugin" not in out and "alembic" not in out
    assert len(out.strip().splitlines()) <= 8, out
