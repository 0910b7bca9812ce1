"""Process configuration from the environment (and ``.env``, loaded by bot.py).

A missing or malformed setting raises ConfigError naming it, which bot.py prints
as one line before exiting. Feature settings that admins tune at runtime live in
core.platform.params instead.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.platform import DEFAULT_URL, private_dir, private_sqlite_file


class ConfigError(Exception):
    def __init__(self, name: str, problem: str) -> None:
        self.name, self.problem = name, problem
        super().__init__(f"{name}: {problem}")


@dataclass(frozen=True)
class Settings:
    bot_token: str
    database_url: str = DEFAULT_URL
    admin_ids: frozenset[int] = frozenset()
    telegram_api_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    public_url: str | None = None
    redis_url: str | None = None
    secret_key: str = ""  # empty only on SQLite: bot.py then keeps a generated one in the data folder
    log_level: str = "INFO"
    # The HTTP server facing the internet (handlers/http_server.py).
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    http_read_timeout: int = 15  # seconds for a request's headers and body to arrive
    http_keepalive_timeout: int = 75  # seconds an idle keep-alive connection stays open
    http_max_connections: int = 512
    http_flood_log_interval: int = 60  # seconds: at most one "HTTP flood" log line per interval
    captcha_provider: str = "buttons"  # buttons (a picture) | turnstile | hcaptcha (a Mini App page)
    captcha_site_key: str = ""
    captcha_secret_key: str = ""
    captcha_verify_url: str = ""
    captcha_verify_timeout: float = 10.0  # float ok: seconds to wait for the provider's siteverify
    instance_id: str = ""  # INSTANCE_ID; empty: bot.py takes this deployment slot's (with_instance_id)
    job_lease_seconds: int = 30  # JOB_LEASE_SECONDS: a dead instance's jobs move to another within this
    # Price sources of the exchange (core.exchange.sources): base URLs, and CoinGecko's optional API key.
    price_coingecko_url: str = "https://api.coingecko.com"
    price_binance_url: str = "https://api.binance.com"
    price_coingecko_key: str = ""

    def __repr__(self) -> str:  # never print secrets
        return f"Settings(database={self.database_url.split('@')[-1]!r}, webhook={bool(self.webhook_url)})"

    @property
    def webhook_path(self) -> str:
        return urlsplit(self.webhook_url).path or "/" if self.webhook_url else "/webhook"


CAPTCHA_PROVIDERS = ("buttons", "turnstile", "hcaptcha")
# The providers' server-side verification endpoints (their documentation, 2026).
SITEVERIFY_URLS = {
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    "hcaptcha": "https://api.hcaptcha.com/siteverify",
}
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,100}", re.ASCII)
_INSTANCE_ID = re.compile(r"[A-Za-z0-9._:@/-]{1,64}", re.ASCII)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}", re.ASCII)


def _url(env: Mapping[str, str], name: str, *, required: bool = False) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        if required:
            raise ConfigError(name, "is not set")
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(name, f"must be an http(s) URL, got {raw[:60]!r}")
    return raw.rstrip("/") if name != "WEBHOOK_URL" else raw


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (env.get(name) or str(default)).strip()
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ConfigError(name, f"must be a whole number from {low} to {high}, got {raw[:20]!r}")
    return int(raw)


def _networks(env: Mapping[str, str], name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """'127.0.0.1, 10.0.0.0/8, ::1' -> networks; addresses or CIDR ranges, comma-separated."""
    out = []
    for part in (env.get(name) or "").replace(";", ",").replace(" ", ",").split(","):
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ConfigError(name, f"must be IP addresses or ranges (CIDR), got {part[:45]!r}") from None
    return tuple(out)


def load_settings(env: Mapping[str, str]) -> Settings:
    token = (env.get("BOT_TOKEN") or "").strip()
    if not token:
        raise ConfigError("BOT_TOKEN", "is not set (get one from @BotFather and put it in .env)")
    if not _TOKEN.fullmatch(token):
        raise ConfigError("BOT_TOKEN", "does not look like a bot token (digits, a colon, then letters)")

    database_url = (env.get("DATABASE_URL") or "").strip() or DEFAULT_URL
    try:
        backend = make_url(database_url).get_backend_name()
    except ArgumentError:
        raise ConfigError("DATABASE_URL", "is not a database URL") from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError("DATABASE_URL", "must be sqlite+aiosqlite:///... or postgresql+asyncpg://...")

    admin_ids: set[int] = set()
    for part in (env.get("ADMIN_IDS") or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit()):
            raise ConfigError(
                "ADMIN_IDS", f"must be numeric Telegram ids separated by commas, got {part[:30]!r}"
            )
        admin_ids.add(int(part))

    webhook_url = _url(env, "WEBHOOK_URL")
    secret = (env.get("WEBHOOK_SECRET") or "").strip() or None
    if webhook_url and not secret:
        raise ConfigError("WEBHOOK_SECRET", "is required when WEBHOOK_URL is set")
    if secret and not _SECRET_TOKEN.fullmatch(secret):
        raise ConfigError("WEBHOOK_SECRET", "may only contain A-Z, a-z, 0-9, _ and - (1 to 256 characters)")

    port_raw = (env.get("WEB_PORT") or "8080").strip()
    if not (port_raw.isascii() and port_raw.isdigit()) or not 0 < int(port_raw) < 65536:
        raise ConfigError("WEB_PORT", f"must be a port number, got {port_raw[:20]!r}")

    secret_key = (env.get("SECRET_KEY") or "").strip()
    if secret_key and len(secret_key) < 32:
        raise ConfigError("SECRET_KEY", "must be at least 32 characters (scripts/start writes a random one)")
    if not secret_key and backend != "sqlite":
        raise ConfigError("SECRET_KEY", "is required with PostgreSQL: every instance must share the same one")

    level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("LOG_LEVEL", "must be DEBUG, INFO, WARNING or ERROR")

    provider = (env.get("CAPTCHA_PROVIDER") or "buttons").strip().lower()
    if provider not in CAPTCHA_PROVIDERS:
        raise ConfigError("CAPTCHA_PROVIDER", "must be buttons, turnstile or hcaptcha")
    public_url = _url(env, "PUBLIC_URL")
    site_key = (env.get("CAPTCHA_SITE_KEY") or "").strip()
    captcha_secret = (env.get("CAPTCHA_SECRET_KEY") or "").strip()
    verify_url = _url(env, "CAPTCHA_VERIFY_URL") or SITEVERIFY_URLS.get(provider, "")
    if provider != "buttons":
        # Telegram opens Mini Apps only from https URLs; the page is served at PUBLIC_URL/captcha/...
        if not public_url or not public_url.startswith("https://"):
            raise ConfigError("PUBLIC_URL", f"must be an https:// URL when CAPTCHA_PROVIDER={provider}")
        for name, value in (("CAPTCHA_SITE_KEY", site_key), ("CAPTCHA_SECRET_KEY", captcha_secret)):
            if not value:
                raise ConfigError(name, f"is required when CAPTCHA_PROVIDER={provider}")
            if len(value) > 200 or not value.isprintable() or " " in value:
                raise ConfigError(
                    name, "does not look like a key (printable, no spaces, up to 200 characters)"
                )
    instance_id = (env.get("INSTANCE_ID") or "").strip()
    if instance_id and not _INSTANCE_ID.fullmatch(instance_id):
        raise ConfigError(
            "INSTANCE_ID", "may only contain A-Z, a-z, 0-9 and . _ : @ / - (1 to 64 characters)"
        )

    return Settings(
        bot_token=token,
        database_url=database_url,
        admin_ids=frozenset(admin_ids),
        telegram_api_url=_url(env, "TELEGRAM_API_URL"),
        webhook_url=webhook_url,
        webhook_secret=secret,
        web_host=(env.get("WEB_HOST") or "127.0.0.1").strip(),
        web_port=int(port_raw),
        public_url=public_url,
        redis_url=(env.get("REDIS_URL") or "").strip() or None,
        secret_key=secret_key,
        log_level=level,
        trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
        http_read_timeout=_int(env, "HTTP_READ_TIMEOUT", 15, 1, 3600),
        http_keepalive_timeout=_int(env, "HTTP_KEEPALIVE_TIMEOUT", 75, 1, 3600),
        http_max_connections=_int(env, "HTTP_MAX_CONNECTIONS", 512, 8, 1_000_000),
        http_flood_log_interval=_int(env, "HTTP_FLOOD_LOG_INTERVAL", 60, 1, 86400),
        captcha_provider=provider,
        captcha_site_key=site_key,
        captcha_secret_key=captcha_secret,
        captcha_verify_url=verify_url,
        instance_id=instance_id,
        job_lease_seconds=_int(env, "JOB_LEASE_SECONDS", 30, 3, 3600),
        price_coingecko_url=_url(env, "PRICE_COINGECKO_URL") or "https://api.coingecko.com",
        price_binance_url=_url(env, "PRICE_BINANCE_URL") or "https://api.binance.com",
        price_coingecko_key=_api_key(env, "PRICE_COINGECKO_KEY"),
    )


def _api_key(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if value and (len(value) > 200 or not value.isascii() or not value.isprintable() or " " in value):
        raise ConfigError(
            name, "does not look like an API key (printable ASCII, no spaces, up to 200 characters)"
        )
    return value


def _sqlite_path(database_url: str) -> str | None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return url.database
    return None


def data_dir(database_url: str) -> Path:
    """Where this deployment keeps its files: the SQLite database's folder, else ``data/``."""
    path = _sqlite_path(database_url)
    return Path(path).resolve().parent if path else Path("data").resolve()


def prepare_files(database_url: str) -> None:
    """Before anything opens it, on SQLite: the database file (0600) in its data folder (0700
    when made here), whatever the umask. It holds every balance and 2FA secret."""
    path = _sqlite_path(database_url)
    if path:
        private_sqlite_file(path)


def readable_by_others(path: str | os.PathLike[str]) -> bool:
    """True when a file exists and its group or other users may read or write it."""
    try:
        return bool(Path(path).stat().st_mode & 0o077)
    except OSError:
        return False


_SLOT_LOCKS: list[int] = []  # held open for the life of the process


def with_instance_id(settings: Settings) -> Settings:
    """This process's name in job leases (core.platform.leases), stable across restarts.

    INSTANCE_ID when set (it must differ between instances that run at once). Otherwise
    ``<host>:<data folder hash>:<slot>``: the first slot whose lock file in the data folder no
    live process holds (a killed one holds none). A restarted bot therefore has the name its
    leases were taken under and takes them back at once, while two bots started side by side
    from one folder get different slots, and so never both believe they hold a lease.
    """
    if settings.instance_id:
        return settings
    folder = data_dir(settings.database_url)
    try:
        import fcntl

        private_dir(folder)
        tag = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
        host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:40] or "host"
        for slot in range(100):
            fd = os.open(folder / f"instance-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another live process holds this slot
                os.close(fd)
                continue
            _SLOT_LOCKS.append(fd)
            return replace(settings, instance_id=f"{host}:{tag}:{slot}")
    except (ImportError, OSError) as err:  # no fcntl (Windows), a read-only or foreign folder
        raise ConfigError(
            "INSTANCE_ID", f"is not set and {folder} cannot hold the slot lock ({err})"
        ) from None
    raise ConfigError("INSTANCE_ID", f"is not set and 100 bots already run from {folder}; set it for each")


def with_local_secret_key(settings: Settings) -> Settings:
    """On SQLite (one instance), a missing SECRET_KEY is generated once and kept beside the database."""
    if settings.secret_key:
        return settings
    import secrets

    db_path = make_url(settings.database_url).database or "data/dustpan.db"
    key_file = Path(db_path).resolve().parent / "secret.key"
    if not key_file.exists():
        private_dir(key_file.parent)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fp:
            fp.write(secrets.token_urlsafe(48))
    return replace(settings, secret_key=key_file.read_text().strip())


def with_file_for_memory_db(settings: Settings) -> Settings:
    """``sqlite+aiosqlite:///:memory:`` (or no path) means "a throw-away database": the bot
    needs a file (a writer thread and readers share it), so it gets a temporary one that is
    deleted when the process ends."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or (url.database and url.database != ":memory:"):
        return settings
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="dustpan-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return replace(settings, database_url=url.set(database=f"{folder}/dustpan.db").render_as_string(False))
