"""``GET`` and ``POST /postback/<name>``: offerwall networks report completions and reversals.

The signature is checked first, against the wall's secret (cached in memory for a few seconds,
decrypted once) and, for URL-signed networks, against the URL as the network called it:
``PUBLIC_URL``'s scheme and host (behind a TLS-terminating proxy the bot itself sees plain
http) with the path and query exactly as they arrived. Only then does one write transaction
(core.earn.offers.record_postback) re-read the wall (on/off, IP allowlist) and apply it.

Answers: success is HTTP 200 with the body the network expects (postbacks.SUCCESS_BODY); a
refusal (forged, unknown wall or sub id, bad amount, replay with other fields, IP outside
the allowlist) is HTTP 200 with the body ``0``, so no network retries a forgery; only our own
trouble (the pool cannot pay, the database is down) is 503, which networks retry later.
Refusals are logged with the wall and the reason, never the secret or the query string.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

from core.earn import offers, postbacks
from core.platform.db import Database
from core.platform.params import Params
from handlers.web import DB_KEY, SETTINGS_KEY, client_ip

log = logging.getLogger(__name__)

KEY_TTL = 5.0  # float ok: seconds a wall's key stays cached (a removed wall is refused at once anyway)
REFUSED_BODY = "0"
_NAME = re.compile(r"[a-z0-9_-]{1,32}", re.ASCII)


class Postbacks:
    """Per-process state: the walls' keys, decrypted once per sealed secret."""

    def __init__(
        self,
        db: Database,
        secret_key: str,
        public_url: str | None,
        params: Params | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.secret_key, self.params, self.clock = db, secret_key, params or Params(), clock
        parts = urlsplit(public_url or "")
        self.origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
        self._keys: dict[str, tuple[float, offers.WallKey | None]] = {}  # float ok: clock time
        self._secrets: dict[str, str] = {}  # sealed -> plain

    async def key(self, name: str) -> tuple[offers.WallKey, str] | None:
        now = self.clock()
        hit = self._keys.get(name)
        if hit is None or now - hit[0] > KEY_TTL:
            if len(self._keys) > 1000:
                self._keys.clear()
            hit = self._keys[name] = (now, await self.db.read(offers.wall_key, name))
        key = hit[1]
        if key is None:
            return None
        plain = self._secrets.get(key.sealed)
        if plain is None:
            plain = self._secrets[key.sealed] = offers.open_secret(self.secret_key, key)
        return key, plain

    def url_of(self, request: web.Request) -> str:
        return f"{self.origin or f'{request.scheme}://{request.host}'}{request.raw_path}"


POSTBACKS = web.AppKey("postbacks", Postbacks)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS_KEY]
    app[POSTBACKS] = Postbacks(app[DB_KEY], settings.secret_key or "dustpan", settings.public_url)
    app.router.add_route("GET", "/postback/{name}", handle)
    app.router.add_route("POST", "/postback/{name}", handle)


def refused(name: str, network: str, reason: str) -> web.Response:
    log.info("postback %s (%s) refused: %s", name[:32], network, reason)
    return web.Response(text=REFUSED_BODY)


async def _form(request: web.Request) -> list[tuple[str, str]]:
    if request.method != "POST" or not request.body_exists:
        return []
    try:
        form = await request.post()
    except Exception:  # a malformed or oversized body
        raise postbacks.PostbackRefused("malformed", why="body") from None
    return [(k, v) for k, v in form.items() if isinstance(v, str)]


async def handle(request: web.Request) -> web.Response:
    pb = request.app[POSTBACKS]
    name = request.match_info["name"].lower()
    if not _NAME.fullmatch(name):
        return refused("?", "?", "unknown_wall")
    network = "?"
    try:
        found = await pb.key(name)
        if found is None:
            return refused(name, network, "unknown_wall")
        key, secret = found
        network = key.network
        got = postbacks.Request(
            url=pb.url_of(request),
            query=postbacks.query_pairs(request.rel_url.raw_query_string),
            form=await _form(request),
            headers=dict(request.headers),
        )
        done = postbacks.read(network, got, secret)
        await pb.params.refresh(pb.db)
        params = pb.params
        await pb.db.write(
            offers.record_postback,
            key.id,
            done,
            ip=client_ip(request),
            settings_of=lambda asset: offers.settings_for(params, asset),
        )
    except (postbacks.PostbackRefused, offers.OfferRefused) as err:
        return refused(name, network, err.reason)
    except offers.OfferPoolDry as err:
        log.warning(
            "postback %s (%s): offer_pool has too little %s; the network will retry",
            name,
            network,
            err.params.get("asset"),
        )
        return web.Response(status=503, text="pool empty, retry later")
    except Exception as exc:  # the database failed: let the network retry
        log.error("postback %s (%s) failed: %s", name, network, type(exc).__name__, exc_info=True)
        return web.Response(status=503, text="retry later")
    return web.Response(text=postbacks.SUCCESS_BODY[network])
