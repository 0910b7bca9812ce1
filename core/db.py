"""How core reaches the database: ``await db.write(fn, ...)`` and ``await db.read(fn, ...)``.

A use case is a plain synchronous function of a SQLAlchemy ``Connection``. It runs
inside one DB transaction, so several ledger transfers and the facts that caused
them commit together or not at all, and no transaction ever stays open across a
Telegram or HTTP call (the function cannot await one).

SQLite: one writer thread owns the only write connection. Concurrent writes are
queued and grouped: the writer runs each waiting use case in its own SAVEPOINT
inside one ``BEGIN IMMEDIATE`` transaction and commits them with one fsync, then
resolves every caller. A caller is answered only after its commit is durable
(WAL, ``synchronous=FULL``). One thread hop in and one out per group, instead of
a dozen per statement through aiosqlite. Reads go through aiosqlite.

PostgreSQL: each write runs in its own transaction through asyncpg (greenlet, no
threads) and is retried on serialization failures, deadlocks and unique races.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_URL = "sqlite+aiosqlite:///data/dustpan.db"
MAX_GROUP = 256
# PostgreSQL SQLSTATEs after which the whole use case can simply run again.
RETRYABLE = {"40001", "40P01", "23505"}


class Database:
    """The process's handle on the database. Create with the URL, then ``await start()``."""

    def __init__(self, url: str = DEFAULT_URL, *, pool_size: int = 8, echo: bool = False) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database: {self.dialect}")
        self._writer: _SQLiteWriter | None = None
        if self.dialect == "sqlite":
            path = self.url.database
            if not path or path == ":memory:":
                raise ValueError("SQLite needs a file path (in-memory databases cannot be shared)")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(
                self.url.set(drivername="sqlite+aiosqlite"), echo=echo, connect_args={"timeout": 30}
            )
            _sqlite_pragmas(self.engine.sync_engine, begin="BEGIN")
        else:
            self.engine = create_async_engine(
                self.url.set(drivername="postgresql+asyncpg"),
                echo=echo,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=False,
            )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    async def start(self) -> None:
        if self.is_sqlite and self._writer is None:
            self._writer = _SQLiteWriter(self.url.set(drivername="sqlite+pysqlite"))
            self._writer.start()

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.to_thread(self._writer.stop)
            self._writer = None
        await self.engine.dispose()

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(conn, *args, **kwargs)`` in a write transaction and commit it durably."""
        if self._writer is not None:
            return await self._writer.submit(fn, args, kwargs)
        if self.is_sqlite:
            raise RuntimeError("Database.start() was not awaited")
        for attempt in range(8):
            try:
                async with self.engine.begin() as conn:
                    return await conn.run_sync(lambda c: fn(c, *args, **kwargs))
            except DBAPIError as exc:
                if _sqlstate(exc) not in RETRYABLE or attempt == 7:
                    raise
                await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(conn, ...)`` on a consistent snapshot; nothing it does is committed."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(lambda c: fn(c, *args, **kwargs))


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is None and isinstance(exc, IntegrityError):
        code = getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return code


def _sqlite_pragmas(sync_engine, *, begin: str) -> None:
    """WAL, durable commits, a busy timeout, and transactions we begin ourselves.

    pysqlite's own transaction handling cannot do SAVEPOINT or BEGIN IMMEDIATE, so
    it is switched off (isolation_level=None) and SQLAlchemy's "begin" emits ours.
    """

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql(begin)


class _Job:
    __slots__ = ("fn", "args", "kwargs", "future", "loop")

    def __init__(self, fn, args, kwargs, future, loop):
        self.fn, self.args, self.kwargs, self.future, self.loop = fn, args, kwargs, future, loop


def _settle(future: asyncio.Future, ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _SQLiteWriter:
    """The one thread that writes to the SQLite file, committing queued use cases in groups."""

    def __init__(self, url) -> None:
        self.engine = create_engine(url, poolclass=_single_pool(), connect_args={"check_same_thread": False})
        _sqlite_pragmas(self.engine, begin="BEGIN IMMEDIATE")
        self.queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.engine.dispose()

    def submit(self, fn, args, kwargs) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.put(_Job(fn, args, kwargs, future, loop))
        return future

    def _run(self) -> None:
        conn = self.engine.connect()
        try:
            while True:
                job = self.queue.get()
                if job is None:
                    return
                group = [job]
                stop = False
                while len(group) < MAX_GROUP:
                    try:
                        nxt = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    group.append(nxt)
                self._commit_group(conn, group)
                if stop:
                    return
        finally:
            conn.close()

    def _commit_group(self, conn: Connection, group: list[_Job]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with conn.begin():
                if len(group) == 1:
                    job = group[0]
                    outcomes.append((True, job.fn(conn, *job.args, **job.kwargs)))
                else:
                    for job in group:
                        savepoint = conn.begin_nested()
                        try:
                            result = job.fn(conn, *job.args, **job.kwargs)
                        except Exception as exc:  # one use case's refusal must not sink the group
                            savepoint.rollback()
                            outcomes.append((False, exc))
                        else:
                            savepoint.commit()
                            outcomes.append((True, result))
        except Exception as exc:
            # The group's transaction rolled back: every caller gets the error,
            # including those whose own step had succeeded (nothing of theirs was kept).
            if len(group) > 1 and not isinstance(exc, DBAPIError):
                log.exception("SQLite group commit failed")
            outcomes = [(False, exc)] * len(group)
        for job, (ok, value) in zip(group, outcomes, strict=True):
            job.loop.call_soon_threadsafe(_settle, job.future, ok, value)


def _single_pool():
    from sqlalchemy.pool import StaticPool

    return StaticPool
