"""core.platform.db's SQLite writer when the file cannot be opened at start: it says why, keeps trying
with back-off, a write that cannot start in time fails with a clear error instead of waiting
forever, and writes work again once the cause is gone."""

import asyncio
import logging
import shutil
import sqlite3
import threading

import pytest
from sqlalchemy import event, text

from core.platform.db import Database, DatabaseUnavailable, _sqlite_pragmas

pytestmark = pytest.mark.timeout(60)


def note(conn, value):
    conn.execute(text("INSERT INTO audit_log (at, action, details) VALUES ('2026-12-01 00:00:00', :v, '{}')"), {"v": value})
    return value


async def notes(db):
    return await db.read(lambda c: c.execute(text("SELECT action FROM audit_log ORDER BY id")).scalars().all())


@pytest.fixture
def sqlite_only(migrated_template):
    if not migrated_template.endswith(".db"):
        pytest.skip("the writer thread is SQLite's")
    return migrated_template


def spoil_with_garbage(path):
    path.write_bytes(b"this is not a database, it is a text file " * 100)


def spoil_with_a_folder(path):
    path.mkdir()


@pytest.mark.parametrize("spoil", [spoil_with_garbage, spoil_with_a_folder])
async def test_a_writer_that_cannot_open_the_file_reports_it_and_recovers(sqlite_only, tmp_path, caplog, spoil):
    caplog.set_level(logging.INFO, logger="core.platform.db")
    path = tmp_path / "dustpan.db"
    spoil(path)
    db = Database(f"sqlite+aiosqlite:///{path}", write_timeout=0.5)
    await db.start()
    try:
        with pytest.raises(DatabaseUnavailable) as failed:
            await asyncio.wait_for(db.write(note, "lost"), 10)  # 10 s: a hang, not a slow answer
        assert "did not start within 0.5 s" in str(failed.value) and "nothing was written" in str(failed.value)
        assert str(path) in str(failed.value)
        reported = [r for r in caplog.records if r.name == "core.platform.db" and r.levelno >= logging.ERROR]
        assert reported and "retrying" in reported[0].getMessage()

        if path.is_dir():  # the cause goes away: the file is back
            path.rmdir()
        shutil.copyfile(sqlite_only, path)
        for _ in range(100):  # the writer retries with back-off (at most a few seconds apart)
            try:
                assert await asyncio.wait_for(db.write(note, "kept"), 10) == "kept"
                break
            except DatabaseUnavailable:
                await asyncio.sleep(0.2)
        else:
            pytest.fail("the writer never recovered")
        assert await notes(db) == ["kept"]  # the write that timed out was never applied
        assert any("connected" in r.getMessage() for r in caplog.records if r.name == "core.platform.db")
    finally:
        await asyncio.wait_for(db.close(), 10)


async def test_a_write_waits_for_a_writer_that_is_still_connecting(sqlite_only, tmp_path):
    """The database is locked at start (another program holds it, rollback-journal mode) for
    longer than the driver's default 5 s: the writer's WAL setup waits behind the busy
    timeout, and a write given time enough goes through."""
    path = tmp_path / "dustpan.db"
    shutil.copyfile(sqlite_only, path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(6.0, holder.rollback)
    release.start()
    db = Database(f"sqlite+aiosqlite:///{path}", write_timeout=20)
    await db.start()
    try:
        assert await asyncio.wait_for(db.write(note, "after the lock"), 25) == "after the lock"
        assert await notes(db) == ["after the lock"]
    finally:
        release.cancel()
        holder.close()
        await asyncio.wait_for(db.close(), 10)


def test_the_busy_timeout_is_set_before_the_wal_setup(tmp_path):
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path}/x.db")
    seen: list[str] = []

    @event.listens_for(engine, "connect")
    def trace(dbapi_conn, _record):  # registered first, so it sees the pragmas run
        dbapi_conn.set_trace_callback(seen.append)

    _sqlite_pragmas(engine, begin="BEGIN")
    with engine.connect():
        pass
    engine.dispose()
    pragmas = [s.split("=")[0] for s in seen if s.upper().startswith("PRAGMA")]
    assert pragmas.index("PRAGMA busy_timeout") < pragmas.index("PRAGMA journal_mode"), pragmas


async def test_closing_a_writer_that_never_connected_fails_its_waiting_writes(sqlite_only, tmp_path):
    path = tmp_path / "dustpan.db"
    spoil_with_garbage(path)
    db = Database(f"sqlite+aiosqlite:///{path}", write_timeout=30)
    await db.start()
    waiting = asyncio.ensure_future(db.write(note, "never"))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(db.close(), 10)
    with pytest.raises(DatabaseUnavailable):
        await asyncio.wait_for(waiting, 5)
