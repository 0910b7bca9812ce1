"""/2fa through the real dispatcher: QR and secret, confirm with a code, backup codes, disable."""

import re

import pyotp

from core.identity import twofa
from tests.handlers.harness import texts

ALICE = 111


async def turn_on(tg, db, user_id=ALICE):
    p = tg.person(user_id)
    await p.send("/start")
    await p.send("/2fa")  # the on/off screen; setup starts from its button (issue 12, item 5)
    sent = await p.tap_button("Turn 2FA on")
    photo = [s for s in sent if s.method == "sendPhoto"][0]
    assert "otpauth://totp/" in photo.text
    assert photo.params["_files"]  # the QR code PNG is uploaded
    secret = re.search(r"<code>([A-Z2-7]+)</code>", photo.text)[1]
    return p, secret


async def test_setup_with_qr_then_code_then_backup_codes(tg, db):
    p, secret = await turn_on(tg, db)
    assert "wrong" in texts(await p.send("123456"))
    assert not await db.read(twofa.is_enabled, ALICE)
    await p.send("/2fa")  # start again with a new secret
    await p.tap_button("Turn 2FA on")
    photo = [s for s in tg.session.sent if s.method == "sendPhoto"][-1]
    secret = re.search(r"<code>([A-Z2-7]+)</code>", photo.text)[1]
    sent = await p.send(pyotp.TOTP(secret).now())
    deleted = [s.params["message_id"] for s in sent if s.method == "deleteMessage"]
    assert len(deleted) == 2 and photo.message_id in deleted  # the code's message and the QR code
    out = texts(sent)
    assert "Two-factor authentication is on" in out
    assert len(re.findall(r"<code>[a-z2-9]{5}-[a-z2-9]{5}</code>", out)) == 10
    assert await db.read(twofa.is_enabled, ALICE)
    assert "is <b>on</b>" in texts(await p.send("/2fa"))


async def test_disable_with_wrong_then_right_code(tg, db):
    p, secret = await turn_on(tg, db)
    t = pyotp.TOTP(secret)
    from datetime import UTC, datetime, timedelta

    await p.send(t.at(datetime.now(UTC) - timedelta(seconds=30)))
    await p.send("/2fa")
    await p.tap_button("Turn 2FA off")
    assert "wrong" in texts(await p.send("999999"))
    assert await db.read(twofa.is_enabled, ALICE)
    await p.send("/2fa")
    await p.tap_button("Turn 2FA off")
    assert "is off" in texts(await p.send(t.now()))
    assert not await db.read(twofa.is_enabled, ALICE)


async def test_menu_shows_the_state_with_a_button(tg, db):
    p = tg.person(ALICE)
    await p.send("/start")
    sent = await p.tap_button("2FA")
    assert "is <b>off</b>" in texts(sent)
    sent = await p.tap_button("Turn 2FA on")
    assert [s for s in sent if s.method == "sendPhoto"]


async def test_a_burst_of_wrong_codes_from_an_admin_tries_only_max_failures(tg, db):
    """Twelve /credit commands with wrong codes at once: three (twofa.max_failures) are tried and
    refused as wrong, the rest are refused as locked, nothing moves, and the right code is locked out."""
    import asyncio
    from datetime import UTC, datetime

    from core.money import ledger
    from core.money.accounts import user_account
    from tests.core.identity.test_twofa import wrong_code
    from tests.handlers.conftest import ADMIN

    params = tg.dp["params"]
    await params.store(db, "twofa.max_failures", "3", admin_id=ADMIN)
    await params.store(db, "throttle.in_flight", "50", admin_id=ADMIN)
    admin, secret = await turn_on(tg, db, ADMIN)
    t = pyotp.TOTP(secret)
    await admin.send(t.now())
    await tg.person(ALICE).send("/start")
    await admin.send("/deposit 1 BTC float")
    code = wrong_code(secret, datetime.now(UTC))
    before = len(tg.session.sent)
    await asyncio.gather(*(admin.send(f"/credit {ALICE} 0.0001 BTC gift code {code}") for _ in range(12)))
    answers = [s.text for s in tg.session.sent[before:] if s.chat_id == ADMIN and s.method == "sendMessage"]
    assert sum("That code is wrong" in a for a in answers) == 3, answers
    assert sum("locked until" in a for a in answers) == 9, answers
    assert "locked until" in texts(await admin.send(f"/credit {ALICE} 0.0001 BTC gift code {t.now()}"))
    assert (await db.read(ledger.balance, user_account(ALICE), "BTC")).balance == 0
