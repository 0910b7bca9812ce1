"""2FA state: setup, codes accepted once (also under concurrency), backup codes, the lock."""

import asyncio
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from core import twofa
from core.users import upsert_user

KEY = "s" * 40
U = 42
MAX = 10  # twofa.max_failures


def verify(conn, *args, **kwargs):
    return twofa.verify(conn, *args, max_failures=MAX, **kwargs)


async def enable(db, user_id=U, now=None):
    await db.write(upsert_user, id=user_id, username="u", first_name="U", language_code="en")
    setup = await db.write(twofa.begin_setup, user_id, KEY, "u", now=now)
    t = pyotp.TOTP(setup.secret)
    when = now or datetime.now(UTC)
    codes = await db.write(twofa.confirm_setup, user_id, t.at(when), KEY, now=when, max_failures=MAX)
    return setup.secret, codes


async def test_setup_needs_a_valid_code_and_stores_the_secret_encrypted(db):
    await db.write(upsert_user, id=U, username="u", first_name="U", language_code="en")
    setup = await db.write(twofa.begin_setup, U, KEY, "u")
    assert setup.uri.startswith("otpauth://totp/") and "redacted" in repr(setup)
    with pytest.raises(twofa.TwoFactorFailed):
        await db.write(twofa.confirm_setup, U, "000000", KEY, max_failures=MAX)
    assert not await db.read(twofa.is_enabled, U)
    stored = await db.read(lambda c: c.execute(twofa.twofa.select()).one())
    assert setup.secret not in stored.secret
    codes = await db.write(twofa.confirm_setup, U, pyotp.TOTP(setup.secret).now(), KEY, max_failures=MAX)
    assert len(set(codes)) == 10 and await db.read(twofa.is_enabled, U)
    with pytest.raises(twofa.TwoFactorState):
        await db.write(twofa.begin_setup, U, KEY, "u")


async def test_code_accepted_once_within_one_step_of_drift(db):
    now = datetime(2026, 11, 30, 12, 0, 10, tzinfo=UTC)
    secret, _ = await enable(db, now=now - timedelta(minutes=5))
    t = pyotp.TOTP(secret)
    late = t.at(now - timedelta(seconds=30))  # previous step: still good
    assert await db.write(verify, U, late, KEY, now=now)
    with pytest.raises(twofa.TwoFactorFailed):  # replayed
        await db.write(verify, U, late, KEY, now=now)
    with pytest.raises(twofa.TwoFactorFailed):  # two steps old
        await db.write(verify, U, t.at(now - timedelta(seconds=90)), KEY, now=now)
    assert await db.write(verify, U, t.at(now + timedelta(seconds=30)), KEY, now=now)


async def test_twenty_concurrent_submissions_of_one_code_accept_one(db):
    secret, _ = await enable(db, now=datetime.now(UTC) - timedelta(minutes=2))
    code = pyotp.TOTP(secret).now()
    results = await asyncio.gather(
        *(db.write(verify, U, code, KEY) for _ in range(20)), return_exceptions=True
    )
    assert sum(r is True for r in results) == 1
    assert all(isinstance(r, twofa.TwoFactorFailed) for r in results if r is not True)


async def test_backup_codes_work_once(db):
    _, codes = await enable(db)
    assert await db.write(verify, U, codes[3].upper(), KEY)
    with pytest.raises(twofa.TwoFactorFailed):
        await db.write(verify, U, codes[3], KEY)


async def test_ten_failures_lock_for_24_hours(db):
    now = datetime.now(UTC)
    secret, _ = await enable(db, now=now - timedelta(minutes=3))
    for i in range(10):
        await db.write(twofa.record_failure, U, now=now - timedelta(hours=1) + timedelta(seconds=i))
    with pytest.raises(twofa.TwoFactorLocked) as e:
        await db.write(verify, U, pyotp.TOTP(secret).now(), KEY, now=now)
    assert e.value.params["until"] == (now + timedelta(hours=23)).strftime("%Y-%m-%d %H:%M UTC")
    later = now + timedelta(hours=23, minutes=1)
    assert await db.write(verify, U, pyotp.TOTP(secret).at(later), KEY, now=later)


async def test_disable_needs_a_code(db):
    secret, _ = await enable(db, now=datetime.now(UTC) - timedelta(minutes=2))
    with pytest.raises(twofa.TwoFactorRequired):
        await db.write(twofa.disable, U, None, KEY, max_failures=MAX)
    await db.write(twofa.disable, U, pyotp.TOTP(secret).now(), KEY, max_failures=MAX)
    assert not await db.read(twofa.is_enabled, U)
    assert await db.write(twofa.require, U, None, KEY, max_failures=MAX) is False
