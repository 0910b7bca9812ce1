"""The bot's aiohttp app: the Telegram webhook (in webhook mode) and HTTP inputs.

Features add their routes by appending a ``setup(app)`` function to ROUTES.
The webhook answers Telegram only after the update was handled, so an update
whose instance crashes mid-way is delivered again (and idempotency keys make
the retry harmless). A malformed webhook body is refused with one WARNING line.
handlers/http_server.py serves the app with timeouts and limits.

``client_ip(request)`` is the address limits and allowlists use: the socket's peer, or,
when the peer is one of ``TRUSTED_PROXIES``, the rightmost untrusted hop of X-Forwarded-For.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

from core.config import Settings
from core.platform.db import Database

log = logging.getLogger(__name__)

# Each feature's HTTP routes: a function that adds them to the app.
ROUTES: list[Callable[[web.Application], None]] = []
DB_KEY = web.AppKey("db", Database)
SETTINGS_KEY = web.AppKey("settings", Settings)
REDIS_KEY = web.AppKey("redis", object)  # redis.asyncio.Redis, or None without REDIS_URL
MAX_HOPS = 20  # X-Forwarded-For hops looked at, from the right


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """'1.2.3.4', '::ffff:1.2.3.4', '[::1]:443' or '1.2.3.4:80' -> the address; None if not one."""
    text = (text or "").strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def resolve_client(peer: str | None, forwarded: list[str], trusted: tuple) -> str | None:
    """The client's address: the peer, unless the peer is a trusted proxy; then the
    rightmost X-Forwarded-For hop that is not a trusted proxy (hops left of it can be
    forged by the client). A malformed hop ends the walk at the last trusted address."""
    addr = _address(peer)
    if addr is None:
        return peer
    if not trusted or not any(addr in net for net in trusted):
        return str(addr)
    hops = [h for value in forwarded for h in value.split(",")]
    for hop in reversed(hops[-MAX_HOPS:]):
        ip = _address(hop)
        if ip is None:
            break
        addr = ip
        if not any(ip in net for net in trusted):
            break
    return str(addr)


def client_ip(request: web.Request) -> str | None:
    trusted = request.app[SETTINGS_KEY].trusted_proxies
    forwarded = request.headers.getall("X-Forwarded-For", []) if trusted else []
    return resolve_client(request.remote, forwarded, trusted)


class Webhook(SimpleRequestHandler):
    """aiogram's webhook handler, refusing a malformed body with one WARNING and no traceback:
    not JSON or not an object -> 400; an object that is no valid Update -> 200 and dropped
    (Telegram would otherwise resend it forever)."""

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            raw = await request.read()
            data = bot.session.json_loads(raw)
        except web.HTTPRequestEntityTooLarge:
            log.warning("webhook: body over %d bytes refused", request.client_max_size)
            return web.json_response({"ok": False}, status=413)
        except ValueError as exc:  # not UTF-8 or not JSON
            log.warning("webhook: body is not JSON (%s), refused", type(exc).__name__)
            return web.json_response({"ok": False}, status=400)
        if not isinstance(data, dict):
            log.warning("webhook: body is a JSON %s, not an update; refused", type(data).__name__)
            return web.json_response({"ok": False}, status=400)
        try:
            update = Update.model_validate(data, context={"bot": bot})
        except ValidationError as exc:
            log.warning(
                "webhook: update %r is not valid (%d errors), dropped",
                data.get("update_id"),
                exc.error_count(),
            )
            return web.json_response({})
        result: Any = await self.dispatcher.feed_webhook_update(bot, update, **self.data)
        return web.Response(body=self._build_response_writer(bot=bot, result=result))


def build_web_app(
    settings: Settings, dp: Dispatcher, bot: Bot, db: Database, redis: object | None = None
) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[DB_KEY] = db
    app[SETTINGS_KEY] = settings
    app[REDIS_KEY] = redis
    app.router.add_get("/healthz", health)
    if not _loaded:
        _loaded.append(True)
        _feature_routes()
    if settings.webhook_url:
        Webhook(
            dispatcher=dp, bot=bot, secret_token=settings.webhook_secret, handle_in_background=False
        ).register(app, path=settings.webhook_path)
    for setup in ROUTES:
        setup(app)
    return app


_loaded: list[bool] = []  # feature routes are imported on the first build, not at import time


def _feature_routes() -> None:
    # Imported here, not at the top: feature modules import DB_KEY etc. from this module.
    from handlers.earn import api as faucet_api
    from handlers.earn import postback
    from handlers.security import captcha_web

    ROUTES.append(faucet_api.setup)
    ROUTES.append(captcha_web.setup)
    from handlers.earn import tracking  # ads: PUBLIC_URL/go/<token>

    ROUTES.append(tracking.setup)
    ROUTES.append(postback.setup)
