"""Shared by the benchmarks: fresh databases to measure on."""

from __future__ import annotations

import os

from sqlalchemy import text

from core.db import Database
from core.migrate import upgrade_async

# The benches empty this database; point BENCH_PG_URL elsewhere to keep one you care about.
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def fresh_sqlite(tmp_dir: str) -> str:
    url = f"sqlite+aiosqlite:///{tmp_dir}/bench.db"
    await upgrade_async(url)
    return url


async def fresh_pg(url: str = PG_URL) -> str | None:
    """Drop and re-migrate the schema; None (with a line saying why) when PostgreSQL is not reachable."""
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
