"""Migrations: an empty database upgrades to head, and head matches the code's tables."""

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from core.platform.migrate import upgrade
from core.platform.schema import load_all
from tests.conftest import PG_URL, reset_pg_schema

# SQLite cannot reflect expression indexes, so autogenerate skips comparing
# ix_users_username_lower there; test_username_lookups_use_the_lower_username_index covers it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)


def _diff(url: str) -> list:
    async def go():
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), load_all()))
        await engine.dispose()
        return diff

    return asyncio.run(go())


def test_empty_database_upgrades_to_head_and_matches_the_code(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    upgrade(url)
    upgrade(url)  # a second run is a no-op
    assert _diff(url) == []


def test_empty_postgresql_upgrades_to_head(migrated_template):
    if not PG_URL:
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")
    reset_pg_schema(PG_URL)
    upgrade(PG_URL)
    assert _diff(PG_URL) == []


def test_migrate_command_applies_migrations_by_hand(tmp_path):
    import subprocess
    import sys

    from tests.conftest import repo_root

    url = f"sqlite+aiosqlite:///{tmp_path}/by_hand.db"
    run = subprocess.run(
        [sys.executable, str(repo_root() / "bot.py"), "migrate"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "database is up to date" in run.stdout
    assert _diff(url) == []


async def test_username_lookups_use_the_lower_username_index(db):
    """/credit @name and the faucet API's to=name must not scan the users table."""
    from sqlalchemy import text

    def plan(conn):
        if conn.dialect.name == "sqlite":
            rows = conn.execute(text("EXPLAIN QUERY PLAN SELECT id FROM users WHERE lower(username) = 'x'"))
            return " ".join(str(r[-1]) for r in rows)
        return conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_users_username_lower'")
        ).scalar_one()

    found = await db.read(plan)
    if db.is_sqlite:
        assert "USING INDEX ix_users_username_lower" in found, found
    else:
        assert "lower((username)::text)" in found, found
