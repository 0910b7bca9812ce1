"""How core reaches the database: ``await db.write(fn, ...)`` and ``await db.read(fn, ...)``.

A use case is a plain synchronous function of a SQLAlchemy ``Connection``. It runs
inside one DB transaction, so several ledger transfers and the facts that caused
them commit together or not at all, and no transaction ever stays open across a
Telegram or HTTP call (the function cannot await one).

SQLite: one writer thread owns the only write connection. Concurrent writes are
queued and grouped: the writer runs the waiting use cases inside one ``BEGIN
IMMEDIATE`` transaction (optimistically without savepoints; again with one savepoint
each if any refuses) and commits them with one fsync, then resolves every caller. A caller is answered only after its commit is durable
(WAL, ``synchronous=FULL``). One thread hop in and one out per group, instead of
a dozen per statement through aiosqlite. Reads go through aiosqlite.
If the writer cannot open the file (locked, unreadable, not a database), it logs why and
tries again with back-off; a write that cannot start within ``write_timeout`` seconds then
fails with DatabaseUnavailable (nothing of it was written) instead of waiting forever, and
writes work again as soon as the writer gets its connection.

PostgreSQL: the same grouping, done by writer tasks that each own an asyncpg
connection (greenlets, no threads); one by default, since two writers mostly wait
on each other's lock of the hot account. Grouping matters most on a hot account (the
house): its row lock is then taken once per group commit, not once per transfer.
A use case that hits a deadlock, a serialization failure or a unique race (several
instances write at once) is simply run again.

Several instances (or several writer tasks) on one PostgreSQL database: a group is a few
hundred use cases whose row locks are taken in arrival order, so two groups committing at
once would lock the same accounts in different orders and deadlock (PostgreSQL finds that
only after ``deadlock_timeout``, a second by default, and kills one of them). So every group
transaction first takes one transaction-level advisory lock (``WRITER_LOCK``), the first lock
in one global order: writer transactions of all instances commit one after another and can
never wait on each other in a cycle. Little is lost: a group's row locks (the hot house
account's above all) serialised them anyway, and while one instance commits the other's
queue grows into a bigger group. ``Database.retries`` counts the retried SQLSTATEs
(``40P01`` is a deadlock) so a bench or a test can show none happened.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import random
import stat
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_URL = "sqlite+aiosqlite:///data/dustpan.db"
MAX_GROUP = 256
BUSY_TIMEOUT = 30  # seconds SQLite waits for another connection's lock
WRITE_TIMEOUT = 10.0  # float ok: seconds a write may wait for a writer that is not connected
RETRY_MAX = 5.0  # float ok: the longest pause between two attempts to open the file
# PostgreSQL SQLSTATEs after which the whole use case can simply run again.
RETRYABLE = {"40001", "40P01", "23505"}
# The advisory lock every PostgreSQL group transaction takes first (a bigint, any value no other
# program on the database uses: b"dustpan1" read as a number).
WRITER_LOCK = int.from_bytes(b"dustpan1", "big") & (2**63 - 1)
_TAKE_WRITER_LOCK = f"SELECT pg_advisory_xact_lock({WRITER_LOCK})"


class DatabaseUnavailable(RuntimeError):
    """A write could not even start (the database cannot be opened); nothing of it was written."""


class Database:
    """The process's handle on the database. Create with the URL, then ``await start()``."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        pool_size: int = 8,
        writers: int = 1,
        echo: bool = False,
        write_timeout: float = WRITE_TIMEOUT,  # float ok: seconds
        writer_lock: bool = True,
    ) -> None:
        """``writer_lock=False`` (PostgreSQL) leaves out the advisory lock that orders the group
        transactions of several writers and instances; only bench/bank.py uses it, to show why it is there."""
        self.url = make_url(url)
        self.writer_lock = writer_lock
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database: {self.dialect}")
        self._writer: _SQLiteWriter | _PostgresWriter | None = None
        self.writers = writers
        self.write_timeout = write_timeout
        if self.dialect == "sqlite":
            path = self.url.database
            if not path or path == ":memory:":
                raise ValueError("SQLite needs a file path (in-memory databases cannot be shared)")
            private_sqlite_file(path)
            self.engine: AsyncEngine = create_async_engine(
                self.url.set(drivername="sqlite+aiosqlite"), echo=echo, connect_args={"timeout": BUSY_TIMEOUT}
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
        # Reads run on one snapshot, as SQLite's BEGIN gives: PostgreSQL's default (READ
        # COMMITTED) lets each statement see a newer one, so a check summing the book in
        # several queries would see half a transfer. Read-only besides; asyncpg passes both
        # to its BEGIN, so this costs no round trip.
        self._reads = (
            self.engine
            if self.dialect == "sqlite"
            else self.engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    async def start(self) -> None:
        if self._writer is not None:
            return
        if self.is_sqlite:
            self._writer = _SQLiteWriter(self.url.set(drivername="sqlite+pysqlite"), self.write_timeout)
        else:
            self._writer = _PostgresWriter(self.engine, self.writers, lock=self.writer_lock)
        self._writer.start()

    @property
    def retries(self) -> Counter[str]:
        """How often a use case was run again, by SQLSTATE (PostgreSQL; ``40P01``: deadlock)."""
        writer = self._writer
        return writer.retries if isinstance(writer, _PostgresWriter) else Counter()

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.stop()
            self._writer = None
        await self.engine.dispose()

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(conn, *args, **kwargs)`` in a write transaction; return once it is durably committed."""
        if self._writer is None:
            raise RuntimeError("Database.start() was not awaited")
        result: T = await self._writer.submit(fn, args, kwargs)
        return result

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(conn, ...)`` on a consistent snapshot; nothing it does is committed."""
        async with self._reads.connect() as conn:
            return await conn.run_sync(lambda c: fn(c, *args, **kwargs))


def private_dir(folder: str | os.PathLike[str]) -> Path:
    """Make ``folder`` (and any missing parent) readable by this user only (0700), whatever the
    umask. Folders that already exist are left as they are: they may not be ours alone."""
    folder = Path(folder)
    missing = []
    p = folder
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(d, 0o700)  # mkdir's mode passes through the umask; this does not
    return folder


def private_sqlite_file(path: str | os.PathLike[str]) -> None:
    """The SQLite database for this user only: its folder is made 0700 if it has to be made,
    the file is created 0600 (an empty file is an empty database) and SQLite gives its -wal,
    -shm and -journal files the database file's mode. Files from older versions that others
    could read are narrowed to 0600."""
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.fchmod(fd, 0o600)  # the umask may have taken bits off, or left some on
        os.close(fd)
    for p in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        try:
            mode = p.stat().st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and mode & 0o077:
            os.chmod(p, 0o600)


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is None and isinstance(exc, IntegrityError):
        code = getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return code


def _sqlite_pragmas(sync_engine: Engine, *, begin: str) -> None:
    """WAL, durable commits, a busy timeout, and transactions we begin ourselves.

    pysqlite's own transaction handling cannot do SAVEPOINT or BEGIN IMMEDIATE, so
    it is switched off (isolation_level=None) and SQLAlchemy's "begin" emits ours.
    """

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # First the busy timeout: switching to WAL needs the file to itself, so while another
        # program holds a lock it must wait for it rather than fail at once.
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT * 1000}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)


class _Job:
    __slots__ = ("fn", "args", "kwargs", "future", "loop", "attempts", "deadline", "state")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        future: asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.fn, self.args, self.kwargs, self.future, self.loop = fn, args, kwargs, future, loop
        self.attempts = 0
        self.deadline: asyncio.TimerHandle | None = (
            None  # a TimerHandle while a write waits for a writer that is not connected
        )
        self.state = _QUEUED


_QUEUED, _STARTED, _EXPIRED = 0, 1, 2


def _keep(conn: Connection, error: BaseException) -> None:
    """Commit what a failed use case's error asks to keep (``error.keep(conn)``, e.g. the count
    of a wrong 2FA code) after the use case itself was rolled back. Best effort: it runs in a
    savepoint, and if it fails the refusal still stands."""
    keep = getattr(error, "keep", None)
    if keep is None:
        return
    try:
        with conn.begin_nested():
            keep(conn)
    except Exception:
        log.exception("could not keep what %s asked to keep", type(error).__name__)


def run_group(
    conn: Connection,
    group: list[_Job],
    *,
    optimistic: bool = False,
    first: Callable[[Connection], Any] | None = None,
) -> list[tuple[bool, Any]]:
    """Run a group of use cases in one transaction, each in its own savepoint, and commit once.

    Returns (ok, result or exception) per job. If the commit itself fails, every job
    gets that error: nothing of any of them was kept.

    A use case's error may carry ``keep(conn)``: work to commit although the use case failed
    and was undone (core.identity.twofa counts a wrong code so). It runs right after the rollback, in
    this transaction (or, for a group of one, in one of its own just after).

    ``optimistic``: first run the whole group without savepoints; if any use case refuses,
    roll everything back and run the group again the careful way. Savepoints cost two
    round trips each on PostgreSQL and two statements on SQLite, and refusals are rare. Use cases are functions of the database alone, so
    running one again after a rollback is the same as running it once.

    ``first(conn)`` runs at the start of every transaction of the group, before any use case
    (the PostgreSQL writer takes its advisory lock so).
    """
    if optimistic and len(group) > 1:
        results: list[tuple[bool, Any]] = []
        try:
            with conn.begin():
                if first is not None:
                    first(conn)
                for job in group:
                    results.append((True, job.fn(conn, *job.args, **job.kwargs)))
            return results
        except Exception:  # someone refused (or a race): fall through to savepoints
            pass
    outcomes: list[tuple[bool, Any]] = []
    try:
        with conn.begin():
            if first is not None:
                first(conn)
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
                        _keep(conn, exc)
                        outcomes.append((False, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((True, result))
    except Exception as exc:
        if len(group) > 1 and not isinstance(exc, DBAPIError):
            log.exception("group commit failed")
        outcomes = [(False, exc)] * len(group)
        if len(group) == 1 and getattr(exc, "keep", None) is not None:
            try:
                with conn.begin():
                    _keep(conn, exc)
            except Exception:
                log.exception("could not keep what %s asked to keep", type(exc).__name__)
    return outcomes


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _settle_all(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in items:
        _settle(future, ok, value)


class _SQLiteWriter:
    """The one thread that writes to the SQLite file, committing queued use cases in groups.

    It never dies of a bad file: opening is retried with back-off (each failure logged), and
    a write queued while it is not connected carries a deadline (``write_timeout``): if it has
    not started by then, it fails with DatabaseUnavailable and is skipped when its turn comes.
    """

    def __init__(self, url: URL, write_timeout: float) -> None:  # float ok: seconds
        self.url = url
        self.engine = create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT}
        )
        _sqlite_pragmas(self.engine, begin="BEGIN IMMEDIATE")
        self.queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self.write_timeout = write_timeout
        self.connected = False  # set by the writer thread; read by submit()
        self.problem = "it is still opening the file"
        self._lock = threading.Lock()  # a deadline and the writer decide a job's fate under it
        self._stopping = threading.Event()

    def start(self) -> None:
        self.thread.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        self._stopping.set()
        self.queue.put(None)
        self.thread.join()
        self.engine.dispose()

    def submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        job = _Job(fn, args, kwargs, future, loop)
        if not self.connected:  # only then may a write wait long: give it a deadline
            job.deadline = loop.call_later(self.write_timeout, self._expire, job)
        self.queue.put(job)
        return future

    def _unavailable(self, why: str) -> DatabaseUnavailable:
        return DatabaseUnavailable(
            f"the database cannot be written: the SQLite writer for {self.url.database} is not"
            f" connected ({self.problem}); {why}, so nothing was written"
        )

    def _expire(self, job: _Job) -> None:
        """On the event loop, at a waiting write's deadline."""
        with self._lock:
            if job.state != _QUEUED:
                return
            job.state = _EXPIRED
        _settle(
            job.future, False, self._unavailable(f"this write did not start within {self.write_timeout:g} s")
        )

    def _take(self, job: _Job) -> bool:
        """Mark a job started, unless its deadline passed first (then it is skipped)."""
        if job.deadline is None:
            job.state = _STARTED
            return True
        with self._lock:
            if job.state == _EXPIRED:
                return False
            job.state = _STARTED
        try:
            job.loop.call_soon_threadsafe(job.deadline.cancel)
        except RuntimeError:  # that event loop is closed: no deadline left to cancel
            pass
        return True

    def _connect(self) -> Connection | None:
        """Open the connection, retrying with back-off; None when stopped first."""
        delay, attempt = 0.05, 0  # float ok: seconds
        while not self._stopping.is_set():
            attempt += 1
            try:
                conn = self.engine.connect()
            except Exception as exc:  # locked, unreadable, not a database...
                orig = getattr(exc, "orig", None) or exc
                self.problem = f"{type(orig).__name__}: {orig}"
                report = log.error if attempt == 1 else log.warning
                report(
                    "SQLite writer cannot open %s (%s); retrying in %.2f s",
                    self.url.database,
                    self.problem,
                    delay,
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            if attempt > 1:
                log.warning("SQLite writer connected to %s after %d attempts", self.url.database, attempt)
            self.connected = True
            return conn
        return None

    def _run(self) -> None:
        conn = None
        try:
            conn = self._connect()
            if conn is None:
                return
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
                group = [j for j in group if self._take(j)]
                if group:
                    self._commit_group(conn, group)
                if stop:
                    return
        finally:
            self.connected = False
            self.problem = "it has stopped"
            if conn is not None:
                conn.close()
            self._fail_waiting()

    def _fail_waiting(self) -> None:
        """Whatever is still queued when the writer ends will never run: say so."""
        while True:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                return
            if job is not None and self._take(job):
                error = self._unavailable("the database was closed before this write started")
                try:
                    job.loop.call_soon_threadsafe(_settle, job.future, False, error)
                except RuntimeError:  # that event loop is closed: nobody waits any more
                    pass

    def _commit_group(self, conn: Connection, group: list[_Job]) -> None:
        # One wake-up of the event loop per group, not one per job.
        settled: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for job, (ok, value) in zip(group, run_group(conn, group, optimistic=True), strict=True):
            settled.setdefault(job.loop, []).append((job.future, ok, value))
        for loop, items in settled.items():
            try:
                loop.call_soon_threadsafe(_settle_all, items)
            except RuntimeError:  # that caller's event loop is closed: nobody waits for these
                log.warning("a write finished after its event loop closed")


def _writer_lock(conn: Connection) -> None:
    conn.exec_driver_sql(_TAKE_WRITER_LOCK)


class _PostgresWriter:
    """A few tasks, each with its own connection, committing queued use cases in groups."""

    def __init__(self, engine: AsyncEngine, count: int, *, lock: bool = True) -> None:
        self.engine = engine
        self.count = max(1, count)
        self.first = _writer_lock if lock else None
        self.retries: Counter[str] = Counter()  # SQLSTATE -> use cases run again for it
        self.failed_groups: Counter[str] = Counter()  # SQLSTATE -> group transactions it ended
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._run(), name=f"pg-writer-{i}") for i in range(self.count)]

    async def stop(self) -> None:
        await self.queue.join()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.put_nowait(_Job(fn, args, kwargs, future, loop))
        return future

    async def _run(self) -> None:
        while True:
            group = [await self.queue.get()]
            while len(group) < MAX_GROUP and not self.queue.empty():
                group.append(self.queue.get_nowait())
            try:
                async with self.engine.connect() as conn:
                    outcomes = await conn.run_sync(run_group, group, optimistic=True, first=self.first)
            except Exception as exc:  # could not even connect: every job learns why
                outcomes = [(False, exc)] * len(group)
            states = {_sqlstate(value) for ok, value in outcomes if not ok and isinstance(value, DBAPIError)}
            self.failed_groups.update(s for s in states if s is not None and s in RETRYABLE)
            for job, (ok, value) in zip(group, outcomes, strict=True):
                state = _sqlstate(value) if not ok and isinstance(value, DBAPIError) else None
                if state in RETRYABLE and job.attempts < 8:
                    self.retries[state] += 1
                    job.attempts += 1  # a race with another writer or instance: run it again, a bit later
                    delay = random.uniform(0, 0.001 * 2**job.attempts)  # float ok: seconds
                    asyncio.get_running_loop().call_later(delay, self._requeue, job)
                else:
                    _settle(job.future, ok, value)
                    self.queue.task_done()

    def _requeue(self, job: _Job) -> None:
        # The job stays unfinished while it waits, so stop() (queue.join) waits for it too.
        self.queue.put_nowait(job)
        self.queue.task_done()
