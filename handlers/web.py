"""The bot's aiohttp server: the Telegram webhook (in webhook mode) and HTTP inputs.

Features add their routes by appending a ``setup(app)`` function to ROUTES.
The webhook answers Telegram only after the update was handled, so an update
whose instance crashes mid-way is delivered again (and idempotency keys make
the retry harmless).
"""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from core.config import Settings
from core.db import Database

# Each feature's HTTP routes: a function that adds them to the app.
ROUTES: list[Callable[[web.Application], None]] = []
DB_KEY = web.AppKey("db", Database)
SETTINGS_KEY = web.AppKey("settings", Settings)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def build_web_app(settings: Settings, dp: Dispatcher, bot: Bot, db: Database) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[DB_KEY] = db
    app[SETTINGS_KEY] = settings
    app.router.add_get("/healthz", health)
    if settings.webhook_url:
        SimpleRequestHandler(
            dispatcher=dp, bot=bot, secret_token=settings.webhook_secret, handle_in_background=False
        ).register(app, path=settings.webhook_path)
    for setup in ROUTES:
        setup(app)
    return app


def _feature_routes() -> None:
    # Imported here, not at the top: feature modules import DB_KEY etc. from this module.
    from handlers import captcha_web, faucet_api

    ROUTES.append(faucet_api.setup)
    ROUTES.append(captcha_web.setup)


_feature_routes()
