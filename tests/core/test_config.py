"""Configuration: a missing or malformed setting names itself in one clear line."""

import subprocess
import sys

import pytest

from core.config import ConfigError, load_settings
from tests.conftest import repo_root

GOOD = {"BOT_TOKEN": "123456:ABC-def_123", "SECRET_KEY": "s" * 32}


def test_defaults():
    s = load_settings(GOOD)
    assert s.database_url == "sqlite+aiosqlite:///data/dustpan.db"
    assert s.admin_ids == frozenset() and s.webhook_url is None and s.web_port == 8080
    assert "ABC-def" not in repr(s)


def test_full():
    s = load_settings(
        {
            **GOOD,
            "ADMIN_IDS": "1, 22;333",
            "WEBHOOK_URL": "https://bot.example.com/tg/hook",
            "WEBHOOK_SECRET": "abc_DEF-1",
            "WEB_PORT": "9000",
            "DATABASE_URL": "postgresql+asyncpg://u:p@db/dustpan",
            "TELEGRAM_API_URL": "http://127.0.0.1:8081/",
        }
    )
    assert s.admin_ids == {1, 22, 333}
    assert s.webhook_path == "/tg/hook" and s.web_port == 9000
    assert s.telegram_api_url == "http://127.0.0.1:8081"
    assert "u:p" not in repr(s)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SECRET_KEY": "s" * 32}, "BOT_TOKEN"),
        ({**GOOD, "BOT_TOKEN": ""}, "BOT_TOKEN"),
        ({**GOOD, "BOT_TOKEN": "not a token"}, "BOT_TOKEN"),
        ({**GOOD, "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({**GOOD, "ADMIN_IDS": "@alice"}, "ADMIN_IDS"),
        ({**GOOD, "ADMIN_IDS": "12,abc"}, "ADMIN_IDS"),
        ({**GOOD, "WEBHOOK_URL": "https://x.example/hook"}, "WEBHOOK_SECRET"),
        ({**GOOD, "WEBHOOK_URL": "ftp://x", "WEBHOOK_SECRET": "a"}, "WEBHOOK_URL"),
        ({**GOOD, "WEBHOOK_SECRET": "has space"}, "WEBHOOK_SECRET"),
        ({**GOOD, "WEB_PORT": "99999"}, "WEB_PORT"),
        ({**GOOD, "WEB_PORT": "http"}, "WEB_PORT"),
        ({**GOOD, "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({**GOOD, "DATABASE_URL": "::::"}, "DATABASE_URL"),
        ({**GOOD, "TELEGRAM_API_URL": "localhost:8081"}, "TELEGRAM_API_URL"),
        ({**GOOD, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_bad_settings_name_themselves(env, name):
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert err.value.name == name


def test_missing_secret_key_on_sqlite_is_generated_once_and_kept(tmp_path):
    from core.config import with_local_secret_key

    s = load_settings({"BOT_TOKEN": "1:a", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/d/x.db"})
    first = with_local_secret_key(s).secret_key
    assert len(first) >= 32 and with_local_secret_key(s).secret_key == first
    assert (tmp_path / "d" / "secret.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError) as err:
        load_settings({"BOT_TOKEN": "1:a", "DATABASE_URL": "postgresql+asyncpg://x@h/db"})
    assert err.value.name == "SECRET_KEY"


def test_bot_stops_with_one_clear_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "BOT_TOKEN": "123:abc", "SECRET_KEY": "x", "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, str(repo_root() / "bot.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "Configuration error: SECRET_KEY must be at least 32 characters (scripts/start writes a random one)"
    ]


def test_in_memory_sqlite_becomes_a_throwaway_file():
    from core.config import with_file_for_memory_db

    for url in ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite://"):
        s = with_file_for_memory_db(load_settings({**GOOD, "DATABASE_URL": url}))
        assert s.database_url.startswith("sqlite+aiosqlite:////") and s.database_url.endswith("/dustpan.db")
    kept = load_settings({**GOOD, "DATABASE_URL": "sqlite+aiosqlite:///data/x.db"})
    assert with_file_for_memory_db(kept).database_url == "sqlite+aiosqlite:///data/x.db"


def test_http_server_settings():
    import ipaddress

    s = load_settings(GOOD)
    assert s.trusted_proxies == () and s.http_read_timeout == 15 and s.http_max_connections == 512
    s = load_settings(
        {
            **GOOD,
            "TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1",
            "HTTP_READ_TIMEOUT": "5",
            "HTTP_MAX_CONNECTIONS": "64",
        }
    )
    assert s.trusted_proxies == tuple(
        ipaddress.ip_network(n) for n in ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    )
    assert (s.http_read_timeout, s.http_max_connections) == (5, 64)
    for env, name in (
        ({"TRUSTED_PROXIES": "nginx"}, "TRUSTED_PROXIES"),
        ({"HTTP_READ_TIMEOUT": "0"}, "HTTP_READ_TIMEOUT"),
        ({"HTTP_MAX_CONNECTIONS": "lots"}, "HTTP_MAX_CONNECTIONS"),
    ):
        with pytest.raises(ConfigError) as err:
            load_settings({**GOOD, **env})
        assert err.value.name == name
