"""Shared by the benchmarks: fresh databases to measure on."""

from __future__ import annotations

import os

from sqlalchemy import text

from core.platform.db import Database
from core.platform.migrate import upgrade_async

# The benches empty this database (created on the local server when missing), so by default
# it is one of their own, never the test suite's.
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/dustpan_bench")


async def fresh_sqlite(tmp_dir: str) -> str:
    url = f"sqlite+aiosqlite:///{tmp_dir}/bench.db"
    await upgrade_async(url)
    return url


async def fresh_pg(url: str = PG_URL) -> str | None:
    """Drop and re-migrate the schema; None (with a line saying why) when PostgreSQL is not reachable."""
    await _create_database(url)
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL to measure
        print(f"PostgreSQL: skipped ({type(exc).__name__}: {str(exc)[:80]})")
        return None
    finally:
        await db.close()
    await upgrade_async(url)
    return url


async def _create_database(url: str) -> None:
    """CREATE DATABASE for the bench's own database if the server lacks it (best effort)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    target = make_url(url)
    engine = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": target.database}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    except Exception:  # noqa: BLE001 - fresh_pg reports an unreachable server
        pass
    finally:
        await engine.dispose()
