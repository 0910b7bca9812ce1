"""Dustpan's composition root: .env -> Settings -> database -> dispatcher -> jobs -> polling or webhook.

python bot.py            migrate the database, then run the bot
python bot.py migrate    only apply database migrations
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from dotenv import find_dotenv, load_dotenv

from core.config import (
    ConfigError,
    Settings,
    load_settings,
    prepare_files,
    readable_by_others,
    with_file_for_memory_db,
    with_instance_id,
    with_local_secret_key,
)

log = logging.getLogger("dustpan")


class StartupError(Exception):
    """The bot cannot start; the message is the one line the operator reads (no traceback)."""


RETRY_FIRST, RETRY_MAX = 1, 60  # seconds between attempts to reach Telegram: doubling, capped


async def connect(bot, stop: asyncio.Event, where: str):
    """``getMe``: who the bot is. A token Telegram refuses ends the start with one clear line; a
    Telegram that cannot be reached is tried again with back-off (1, 2, 4 ... 60 s) until it
    answers or the bot is stopped (then None)."""
    from aiogram.exceptions import TelegramNetworkError, TelegramNotFound, TelegramUnauthorizedError

    delay = RETRY_FIRST
    while True:
        try:
            return await bot.get_me()
        except (TelegramUnauthorizedError, TelegramNotFound):  # 401, or 404 for a token of no bot
            raise StartupError(
                "Telegram refused the bot token (401 Unauthorized): check BOT_TOKEN in .env "
                "(copy it again from @BotFather; a revoked token stops working at once)."
            ) from None
        except (TelegramNetworkError, OSError) as err:
            log.warning("cannot reach Telegram at %s (%s); trying again in %s s", where, _reason(err), delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return None
        except TimeoutError:
            delay = min(delay * 2, RETRY_MAX)


def _reason(err: BaseException) -> str:
    text = str(err).split("\n")[0].strip()
    return text[:160] or type(err).__name__


class Redact(logging.Formatter):
    """Keeps the bot token and other secrets out of every log line, tracebacks included
    (a filter sees only the message; the traceback is added when the line is formatted)."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


_SECRET_NAMES = ("_TOKEN", "_SECRET", "_KEY", "_PASSWORD")


def secrets_of(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """What must never be logged: the settings' secrets, any *_TOKEN/_SECRET/_KEY/_PASSWORD
    variable (CRYPTOPAY_TOKEN, ...) and the password inside any URL (DATABASE_URL, REDIS_URL,
    RPC_URL_*)."""
    found = [settings.bot_token, settings.webhook_secret or "", settings.secret_key]
    for name, value in env.items():
        if name.upper().endswith(_SECRET_NAMES):
            found.append(value)
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found += [password, unquote(password)]  # as written, and as a driver would print it
    return found


def setup_logging(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    handler = logging.StreamHandler()
    secrets = secrets_of(settings, os.environ if env is None else env)
    handler.setFormatter(Redact("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run is noise
    if settings.log_level != "DEBUG":  # start-up stays quiet: no line per Alembic plugin or per context,
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("aiogram.dispatcher").setLevel(logging.WARNING)  # ours say "polling mode", "stopped"


def wire_jobs() -> None:
    """Give the jobs the words they send, rendered by handlers (jobs never import handlers)."""
    import jobs
    from handlers.cashout.payouts import batch_caption
    from handlers.common.notices import ledger_alert, render_in
    from handlers.play.crash_views import CrashViews

    jobs.TEXTS = jobs.Texts(
        notice=render_in, ledger_alert=ledger_alert, crash=CrashViews(), payout_batch=batch_caption
    )


async def run(settings: Settings) -> None:
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from core.platform.budget import SendBudget, budget_key
    from core.platform.db import Database
    from core.platform.migrate import upgrade_async
    from core.platform.params import Params
    from core.play.games import seal_seeds
    from handlers.common.commands import register_commands
    from handlers.common.data import shared
    from handlers.common.i18n import get_i18n
    from handlers.common.send_budget import install as install_send_budget
    from handlers.common.taps import install as install_quiet_edits
    from handlers.dispatcher import build_dispatcher
    from handlers.http_server import HttpServer
    from handlers.play.crash import tell_opened
    from handlers.web import build_web_app
    from jobs import build_scheduler
    from jobs.crash import CrashRunner

    wire_jobs()
    await upgrade_async(settings.database_url)
    db = Database(settings.database_url)
    await db.start()
    if sealed := await db.write(seal_seeds, secret_key=settings.secret_key):  # rows from before 0009_play
        log.info("sealed %s game server seeds stored in clear", sealed)
    params = Params()
    await params.refresh(db, force=True)

    redis = storage = None
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
        storage = RedisStorage(redis)

    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if settings.telegram_api_url
        else None
    )
    bot = Bot(settings.bot_token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    install_quiet_edits(bot)  # "message is not modified" is success, for jobs' edits too
    # One send budget for every message of this bot, of every instance (in Redis with REDIS_URL).
    budget = SendBudget(
        lambda: params.get("broadcast.rate"),
        total=lambda: params.get("send.rate"),
        redis=redis,
        key=budget_key(settings.bot_token),
    )
    install_send_budget(bot, budget)  # inside QuietEdits: an edit that changes nothing costs nothing
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        me = await connect(bot, stop, settings.telegram_api_url or "api.telegram.org")
    except BaseException:
        await bot.session.close()
        await db.close()
        raise
    if me is None:  # stopped while Telegram could not be reached
        await bot.session.close()
        await db.close()
        log.info("stopped")
        return
    dp = build_dispatcher(settings, db, params=params, storage=storage, redis=redis)
    app = build_web_app(settings, dp, bot, db, redis=redis)
    http = HttpServer(app, settings)
    try:
        await http.start(settings.web_host, settings.web_port)
        log.info("HTTP server on %s:%s", settings.web_host, settings.web_port)
    except OSError as err:
        if settings.webhook_url:
            raise  # no way to receive updates
        # Polling still works; only the HTTP inputs (faucet API, postbacks) are missing.
        log.error(
            "HTTP server could not listen on %s:%s (%s); set WEB_PORT",
            settings.web_host,
            settings.web_port,
            err,
        )

    data = shared(dp)
    data["bot_username"] = me.username or ""
    await register_commands(bot, get_i18n(), settings.admin_ids)
    from handlers.admin.broadcast import make_show_progress
    from handlers.trust.proof import announce_roots

    scheduler = build_scheduler(
        settings,
        db,
        bot,
        params,
        announce_proofs=lambda roots: announce_roots(bot, params, roots),
        show_broadcast_progress=make_show_progress(db),
        budget=budget,
    )
    scheduler.start()
    # The crash runner plays rounds only while it holds the lease; /crashsalt pokes it.
    crash_runner = CrashRunner(
        db,
        bot,
        params,
        settings.secret_key,
        admin_ids=settings.admin_ids,
        on_open=functools.partial(tell_opened, bot),  # queued /crash joins: their message edits
    )
    crash_runner.start()
    data["crash_runner"] = crash_runner

    polling = None
    if settings.webhook_url:
        await bot.set_webhook(
            settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=dp.resolve_used_update_types(),
        )
        log.info("webhook mode: @%s at %s", me.username, settings.webhook_path)
    else:
        await bot.delete_webhook(drop_pending_updates=False)
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
        log.info("polling mode: @%s", me.username)

    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait(
        {waiter, *([polling] if polling else [])}, return_when=asyncio.FIRST_COMPLETED
    )
    log.info("stopping: no new updates; finishing those in flight")
    if polling is not None and not polling.done():
        await dp.stop_polling()
    scheduler.shutdown(wait=False)
    await crash_runner.stop()
    await data["in_flight"].wait_idle(timeout=30)
    await http.stop()
    await bot.session.close()
    if redis is not None:
        await redis.aclose()
    await db.close()
    if polling is not None and polling.done() and (failed := polling.exception()) is not None:
        raise failed
    log.info("stopped")


def main(argv: list[str]) -> int:
    env_file = find_dotenv()
    load_dotenv(env_file)
    if argv[1:2] == ["migrate"]:
        from core.platform.db import DEFAULT_URL
        from core.platform.migrate import upgrade

        url = os.environ.get("DATABASE_URL") or DEFAULT_URL
        prepare_files(url)
        upgrade(url)
        print("database is up to date")
        return 0
    try:
        settings = with_file_for_memory_db(load_settings(os.environ))
        prepare_files(settings.database_url)
        settings = with_instance_id(with_local_secret_key(settings))
    except ConfigError as err:
        print(f"Configuration error: {err.name} {err.problem}", file=sys.stderr)
        return 2
    setup_logging(settings)
    if env_file and readable_by_others(env_file):
        log.warning("%s can be read by other users of this machine; it holds secrets: chmod 600 it", env_file)
    import jobs

    jobs.INSTANCE = settings.instance_id  # before the job modules import it (jobs.crash does, by name)
    jobs.LEASE_SECONDS = settings.job_lease_seconds
    log.info("instance %s", settings.instance_id)
    try:
        asyncio.run(run(settings))
    except StartupError as err:
        log.error("%s", err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
