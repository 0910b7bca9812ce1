import socket

import pytest

from tests.fakes.fixtures import aiogram_bot, bot_process, fake_api  # noqa: F401

ADMIN = 9001


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bot_env(database_url):
    """What a bot process needs besides the fake's URL and token."""
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "e2e-secret-key-that-is-long-enough-0123456789",
        "ADMIN_IDS": str(ADMIN),
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
    }
