"""2FA state: setup, codes accepted once (also under concurrency), backup codes, the lock."""

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from core.identity import twofa
from core.identity.users import upsert_user
from core.platform.db import Database

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


def wrong_code(secret: str, now: datetime) -> str:
    """A six-digit code that is none of the three accepted at ``now`` (±1 step)."""
    t = pyotp.TOTP(secret)
    good = {t.at(now + timedelta(seconds=s)) for s in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in good)


async def test_forty_concurrent_wrong_codes_are_counted_against_the_limit_one_by_one(db, database_url):
    """Each wrong code is counted by the statement that checks the limit, so of 40 codes sent at
    once (from two instances) exactly ``max_failures`` are tried and the rest are refused as locked;
    the right code is refused afterwards too."""
    from handlers.security.twofa import guarded

    now = datetime.now(UTC)
    secret, _ = await enable(db, now=now - timedelta(minutes=2))
    other = Database(database_url)  # a second instance on the same database
    await other.start()
    try:
        code = wrong_code(secret, datetime.now(UTC))
        results = await asyncio.gather(
            *(guarded(d, U, verify, U, code, KEY) for d in (db, other) for _ in range(20)),
            return_exceptions=True,
        )
    finally:
        await other.close()
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"TwoFactorFailed": MAX, "TwoFactorLocked": 40 - MAX}, kinds
    with pytest.raises(twofa.TwoFactorLocked):
        await db.write(verify, U, pyotp.TOTP(secret).now(), KEY)
    with pytest.raises(twofa.TwoFactorLocked):
        await guarded(db, U, verify, U, pyotp.TOTP(secret).now(), KEY)


async def test_a_right_code_is_not_counted_and_a_refused_action_does_not_count_it_either(db):
    """Only wrong codes count: a right code, even when the action behind it is refused for another
    reason (and rolls back), leaves the count as it was."""
    from core.errors import InsufficientFunds
    from handlers.security.twofa import guarded

    now = datetime.now(UTC)
    secret, _ = await enable(db, now=now - timedelta(minutes=2))
    t = pyotp.TOTP(secret)
    for _ in range(MAX - 1):
        with pytest.raises(twofa.TwoFactorFailed):
            await guarded(db, U, verify, U, wrong_code(secret, datetime.now(UTC)), KEY)

    def refused_after_the_code(conn, code):
        verify(conn, U, code, KEY)
        raise InsufficientFunds("user:42", "BTC", 1)

    with pytest.raises(InsufficientFunds):
        await guarded(db, U, refused_after_the_code, t.now())
    assert await guarded(db, U, verify, U, t.now(), KEY)  # the step was not used up by the rollback
    with pytest.raises(twofa.TwoFactorFailed):  # the limit's last try
        await guarded(db, U, verify, U, wrong_code(secret, datetime.now(UTC)), KEY)
    with pytest.raises(twofa.TwoFactorLocked):
        await guarded(db, U, verify, U, t.at(datetime.now(UTC) + timedelta(seconds=30)), KEY)


async def test_failures_from_before_the_upgrade_still_lock(tmp_path):
    """Migration 0009 carries the last 24 hours of the old failure log over to the counter."""
    import sqlite3

    from core.platform.migrate import upgrade_async

    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    await upgrade_async(url, "0006_lookup_indexes")
    now = datetime.now(UTC)

    def at(delta):
        return (now - delta).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute(
            "INSERT INTO twofa (user_id, secret, enabled, created_at) VALUES (?, 'x', 1, ?)",
            (U, at(timedelta(days=3))),
        )
        old = [(U, at(timedelta(hours=30)))]  # outside the window: forgotten
        recent = [(U, at(timedelta(hours=2, minutes=-i))) for i in range(MAX)]
        conn.executemany("INSERT INTO twofa_failures (user_id, at) VALUES (?, ?)", old + recent)
    await upgrade_async(url)
    db = Database(url)
    await db.start()
    try:
        with pytest.raises(twofa.TwoFactorLocked) as locked:
            await db.read(twofa.check_lock, U, max_failures=MAX)
        assert locked.value.params["until"] == (now + timedelta(hours=22)).strftime("%Y-%m-%d %H:%M UTC")
        await db.read(twofa.check_lock, U, max_failures=MAX + 1)  # a higher limit: not locked
    finally:
        await db.close()


async def test_wrong_codes_are_counted_even_by_a_use_case_run_without_guarded(db):
    """Any write whose use case fails on a wrong code keeps the failure counted (core.platform.db runs
    the error's ``keep`` after rolling the use case back), so a caller that forgets
    handlers.security.twofa.guarded opens no way around the limit."""
    secret, _ = await enable(db, now=datetime.now(UTC) - timedelta(minutes=2))
    code = wrong_code(secret, datetime.now(UTC))
    results = await asyncio.gather(*(db.write(verify, U, code, KEY) for _ in range(40)), return_exceptions=True)
    assert Counter(type(r).__name__ for r in results) == {"TwoFactorFailed": MAX, "TwoFactorLocked": 40 - MAX}
    with pytest.raises(twofa.TwoFactorLocked):
        await db.write(verify, U, pyotp.TOTP(secret).now(), KEY)


async def test_one_wrong_code_alone_is_counted_once(db):
    secret, _ = await enable(db, now=datetime.now(UTC) - timedelta(minutes=2))
    for expected in (1, 2):
        with pytest.raises(twofa.TwoFactorFailed):
            await db.write(verify, U, wrong_code(secret, datetime.now(UTC)), KEY)
        row = await db.read(lambda c: c.execute(twofa.twofa.select()).one())
        assert row.failures == expected


async def test_a_replayed_right_code_is_refused_but_is_no_guess(db):
    """A double tap sends the same right code twice: the second is refused, and costs none of
    the user's tries (only wrong codes are guesses)."""
    from handlers.security.twofa import guarded

    secret, _ = await enable(db, now=datetime.now(UTC) - timedelta(minutes=2))
    code = pyotp.TOTP(secret).now()
    assert await guarded(db, U, verify, U, code, KEY)
    for _ in range(MAX + 2):
        with pytest.raises(twofa.TwoFactorFailed):
            await guarded(db, U, verify, U, code, KEY)
    row = await db.read(lambda c: c.execute(twofa.twofa.select()).one())
    assert (row.failures, row.failures_since) == (0, None)
