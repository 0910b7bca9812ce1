"""Pytest fixtures around the fakes. Import them into tests/conftest.py::

    from tests.fakes.fixtures import aiogram_bot, bot_process, fake_api  # noqa: F401

pytest imports test modules as ``tests.fakes...`` but imports a conftest.py in a tests/ without
__init__.py as a top-level module, so ``tests`` must be importable there: add
``pythonpath = ["."]`` to [tool.pytest.ini_options] (or add tests/__init__.py). Don't import these
modules as ``fakes.*`` in one place and ``tests.fakes.*`` in another: that loads two copies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from .bot_api import FakeBotAPI
from .process import BotProcess

__all__ = ["aiogram_bot", "bot_process", "fake_api"]


@pytest_asyncio.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    """A running FakeBotAPI (token "123456:TEST-TOKEN", bot @dustpan_test_bot)."""
    async with FakeBotAPI() as api:
        yield api


@pytest_asyncio.fixture
async def aiogram_bot(fake_api: FakeBotAPI) -> AsyncIterator[Any]:
    """An aiogram Bot wired to fake_api, for in-process tests."""
    bot = fake_api.make_bot()
    yield bot
    await bot.session.close()


@pytest_asyncio.fixture
async def bot_process(fake_api: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Callable[..., BotProcess]]:
    """Factory: ``proc = bot_process(env={...})`` → BotProcess with fake_api.env() merged in and the
    log under tmp_path; every process made is stopped (then killed) at teardown."""
    made: list[BotProcess] = []

    def factory(env: dict[str, str] | None = None, **kwargs: Any) -> BotProcess:
        kwargs.setdefault("log_path", tmp_path / f"bot-{len(made)}.log")
        proc = BotProcess({**fake_api.env(), **(env or {})}, **kwargs)
        made.append(proc)
        return proc

    yield factory
    for proc in made:
        await proc.aclose()
