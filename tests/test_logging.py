"""bot.py's logging: secrets never reach a log line, not even inside a traceback."""

import logging

from bot import Redact, secrets_of
from core.config import load_settings

TOKEN = "123456:AAAbbbCCCdddEEEfffGGGhhh"
ENV = {
    "BOT_TOKEN": TOKEN,
    "SECRET_KEY": "k" * 40,
    "DATABASE_URL": "postgresql+asyncpg://bot:pa%40ss-word1@db.internal/dustpan",
    "REDIS_URL": "redis://:redis-secret-9@cache:6379/0",
    "CRYPTOPAY_TOKEN": "777:cryptopay-token-value",
    "RPC_URL_BTC": "http://rpcuser:rpc-password-3@node:8332",
    "LOG_LEVEL": "INFO",
}
LEAKS = [
    "AAAbbbCCC",
    "k" * 40,
    "pa%40ss-word1",
    "pa@ss-word1",
    "redis-secret-9",
    "cryptopay-token",
    "rpc-password-3",
]


def format_failure(message: str) -> str:
    formatter = Redact("%(levelname)s %(message)s", secrets_of(load_settings(ENV), ENV))
    try:
        raise RuntimeError(f"could not connect: {message}")
    except RuntimeError as exc:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "failed %s", (message,), (type(exc), exc, exc.__traceback__)
        )
    return formatter.format(record)


def test_secrets_are_redacted_in_the_message_and_in_the_traceback():
    leaky = " ".join(ENV.values()) + " @" + "pa@ss-word1"
    line = format_failure(leaky)
    assert "Traceback" in line and "could not connect" in line
    for leak in LEAKS:
        assert leak not in line, leak
    assert "[redacted]" in line and "db.internal/dustpan" in line  # the rest stays readable


def test_ordinary_lines_are_untouched():
    line = format_failure("timeout after 30 s")
    assert "failed timeout after 30 s" in line and "[redacted]" not in line
