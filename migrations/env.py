"""Alembic environment: async engines (aiosqlite, asyncpg), URL from DATABASE_URL."""

import asyncio
import os

from alembic import context
from dotenv import load_dotenv
from sqlalchemy.ext.asyncio import create_async_engine

from core.config import prepare_files
from core.platform.db import DEFAULT_URL
from core.platform.schema import load_all

config = context.config
target_metadata = load_all()


def database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    load_dotenv()
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    url = database_url()
    prepare_files(url)  # the folder and the SQLite file for this user only, before SQLite makes them
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
