"""Shared fixtures: a migrated database per test (SQLite file, or PostgreSQL when
TEST_DATABASE_URL points at one), and the ledger invariants checked after every
test that touched it."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import wire_jobs
from core.money.ledger import check_invariants
from core.platform.db import Database
from core.platform.migrate import upgrade
from core.platform.schema import load_all

wire_jobs()  # as bot.py does: the jobs get their texts from handlers
PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
ENGINE = "postgresql" if PG_URL else "sqlite"


def pytest_report_header(config):
    return f"database under test: {ENGINE}" + (f" ({PG_URL.split('@')[-1]})" if PG_URL else "")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> str:
    """Run the migrations once per session; tests get a copy (SQLite) or emptied tables (PostgreSQL)."""
    if PG_URL:
        reset_pg_schema(PG_URL)
        upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


def reset_pg_schema(url: str) -> None:
    async def go():
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await db.close()

    asyncio.run(go())


@pytest.fixture
def database_url(migrated_template, tmp_path) -> str:
    if PG_URL:
        return PG_URL
    path = tmp_path / "dustpan.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def _truncate_all(db: Database) -> None:
    names = ", ".join(t.name for t in load_all().sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def db(database_url):
    """A started Database on a freshly migrated, empty schema. Checks the books afterwards."""
    database = Database(database_url)
    if PG_URL:
        await _truncate_all(database)
    await database.start()
    yield database
    problems = await database.read(check_invariants)
    await database.close()
    assert problems == [], "ledger invariants broken:\n" + "\n".join(problems)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "pg_only" in item.keywords and not PG_URL:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL"))


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
