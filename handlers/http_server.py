"""The bot's HTTP server: aiohttp, hardened for the open internet.

- The access log shows method, path (never the query string, where API keys travel, nor a
  body), status, size and time.
- A request must arrive whole, headers and body, within ``HTTP_READ_TIMEOUT`` seconds of its
  first byte (a new connection: of its opening); a slower one is cut. An idle keep-alive
  connection closes after ``HTTP_KEEPALIVE_TIMEOUT``.
- At most ``HTTP_MAX_CONNECTIONS`` connections: at the cap, the oldest connection that is not
  being answered is closed to make room (the newcomer, when every connection is busy), so
  idle and half-open connections cannot lock out ``/healthz``, the webhook or the API.
- What aiohttp refuses before any handler runs (a malformed or unknown method, a request line
  or header over 8 KB, an unsupported Content-Encoding) gets FaucetPay's JSON form,
  ``{"status": 400, "message": ...}`` with the same HTTP status, and no traceback.
- Cut, refused and malformed requests are counted, and logged as one WARNING line per
  ``HTTP_FLOOD_LOG_INTERVAL`` seconds, never one line per connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import BadHttpMethod, ContentEncodingError, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_server import Server

from core.config import Settings

log = logging.getLogger("dustpan.http")
access_log = logging.getLogger("dustpan.http.access")

# Request state: counted as a flood event, so no access line of its own.
_SKIP_LOG: Any = web.RequestKey("skip_access_log", bool) if hasattr(web, "RequestKey") else "dustpan.skip_log"


class AccessLog(AbstractAccessLogger):
    """One line per request: client, method, path, status, bytes, seconds. ``request.path``
    has no query string, so ``?api_key=...`` never reaches the log; bodies are never read."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.get(_SKIP_LOG):
            return
        path = request.path
        if len(path) > 200:
            path = path[:200] + "…"
        self.logger.info(
            '%s "%s %s" %s %s %.3fs',
            request.remote,
            request.method,
            path,
            response.status,
            response.body_length,
            time,
        )


class FloodLog:
    """Counts flood events (cut, refused or malformed requests) and logs them as one WARNING
    per interval: the first event after a quiet interval is logged at once, later ones are
    added up into the next line."""

    def __init__(self, interval: float, logger: logging.Logger = log) -> None:  # float ok: seconds
        self.interval, self.logger = interval, logger
        self.counts: Counter[str] = Counter()
        self.peers: set[str] = set()
        self.lines = 0
        self._last = -1e18  # float ok: loop time of the last line
        self._since = 0.0  # float ok: loop time of the first event not logged yet
        self._handle: asyncio.TimerHandle | None = None

    def count(self, what: str, peer: str | None = None) -> None:
        if not self.counts:
            self._since = asyncio.get_running_loop().time()
        self.counts[what] += 1
        if peer and len(self.peers) < 10_000:
            self.peers.add(peer)
        if self._handle is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last + self.interval - loop.time())
            self._handle = loop.call_later(delay, self.flush)

    def flush(self) -> None:
        self._handle = None
        if not self.counts:
            return
        what = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
        seconds = max(1, round(asyncio.get_running_loop().time() - self._since))
        self.logger.warning("HTTP flood: %s in %ds, from %d addresses", what, seconds, len(self.peers))
        self.lines += 1
        self.counts.clear()
        self.peers.clear()
        self._last = asyncio.get_running_loop().time()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.counts:
            self.flush()


def _refusal(exc: BaseException | None) -> tuple[int, str]:
    if isinstance(exc, ContentEncodingError):
        return 415, "Unsupported Content-Encoding: send the body uncompressed, gzip or deflate."
    if isinstance(exc, LineTooLong):
        return 400, "Request line or header too long."
    if isinstance(exc, BadHttpMethod):
        return 400, "Malformed or unsupported HTTP method: use GET or POST."
    code = getattr(exc, "code", 400)
    return (code if 400 <= code < 500 else 400), "Malformed HTTP request."


class GuardedHandler(RequestHandler):
    """aiohttp's connection protocol with a read deadline and JSON refusals."""

    def __init__(self, manager: GuardedServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.guard = manager
        self.opened = 0.0  # float ok: loop time
        self._deadline: asyncio.TimerHandle | None = None
        self._peer: str | None = None

    # --- the read deadline ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) else None
        self.opened = self._loop.time()
        super().connection_made(transport)
        if not self._force_close:
            self._arm()  # the first request must arrive in time, even if no byte ever comes

    def data_received(self, data: bytes) -> None:
        if data and self._deadline is None and self._current_request is None:
            self._arm()  # the first byte of the next request on a keep-alive connection
        super().data_received(data)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self._loop.call_later(self.guard.read_timeout, self._on_deadline)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        if self.transport is None or self._force_close:
            return
        request = self._current_request
        if request is not None and request.content.is_eof():
            return  # arrived whole; the handler may take its time
        if request is None and self._messages:
            return  # parsed and queued behind a pipelined request
        if request is not None:
            request[_SKIP_LOG] = True
        self.guard.flood.count("slow or idle requests cut", self._peer)
        self.force_close()

    async def _handle_request(self, request, start_time, request_handler):  # noqa: ANN001
        try:
            return await super()._handle_request(request, start_time, request_handler)
        finally:
            self._disarm()
            if self._messages:
                self._arm()  # a pipelined request waits: it gets its own deadline

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        # aiohttp logs a body that fails to decode while it drains it after the answer: garbage
        # from the internet again, counted rather than logged with a traceback.
        exc = kw.get("exc_info")
        if isinstance(exc, RequestPayloadError | HttpProcessingError | ConnectionError):
            self.guard.flood.count("malformed requests", self._peer)
            return
        super().log_exception(*args, **kw)

    # --- refusals in FaucetPay's form ----------------------------------------------------

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response")
        if isinstance(exc, ConnectionError) or self.transport is None:
            text = "Connection lost."  # the client is gone (or was cut): nobody to answer, nothing to log
            request[_SKIP_LOG] = True
        elif isinstance(exc, HttpProcessingError):
            # Garbage from the internet: counted, never logged line by line (its text may hold a key).
            status, text = _refusal(exc)
            request[_SKIP_LOG] = True
            self.guard.flood.count("malformed requests", self._peer)
        elif status >= 500:
            log.error(
                "HTTP %s %s: unhandled %s",
                request.method,
                request.path[:200],
                type(exc).__name__ if exc else status,
                exc_info=exc if exc is not None and not isinstance(exc, asyncio.TimeoutError) else None,
            )
            text = "Temporarily unavailable; try again later."
        else:
            text = "Request refused."
        resp = web.json_response({"status": status, "message": text}, status=status)
        resp.force_close()
        return resp


class GuardedServer(Server):
    """aiohttp's Server (the protocol factory) with a connection cap and the flood log."""

    def __init__(
        self,
        handler: Any,
        *,
        max_connections: int,
        read_timeout: float,  # float ok: seconds
        flood: FloodLog,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.max_connections, self.read_timeout, self.flood = max_connections, read_timeout, flood

    def __call__(self) -> GuardedHandler:
        return GuardedHandler(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if len(self._connections) > self.max_connections:
            self._make_room(handler)

    def _make_room(self, newcomer: RequestHandler) -> None:
        live = [h for h in self._connections if not h._force_close]
        if len(live) <= self.max_connections:
            return
        # Oldest first (dicts keep insertion order): the longest-waiting idle or half-open one.
        victim = next(
            (h for h in live if h is not newcomer and h._current_request is None and not h._messages),
            newcomer,
        )
        self.flood.count("connections closed at the cap", getattr(victim, "_peer", None))
        victim.force_close()


class HttpServer:
    """Starts the app on ``host:port`` with Settings' limits; ``port`` 0 picks a free one."""

    def __init__(self, app: web.Application, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self.flood = FloodLog(settings.http_flood_log_interval)
        self.runner: web.AppRunner | None = None
        self.site: web.TCPSite | None = None

    @property
    def server(self) -> GuardedServer:
        assert self.runner is not None and isinstance(self.runner.server, GuardedServer)
        return self.runner.server  # its .connections are the open connections

    @property
    def port(self) -> int:
        assert self.site is not None
        return self.site.port

    async def start(self, host: str, port: int) -> None:
        s = self.settings
        self.runner = _Runner(
            self.app,
            handle_signals=False,
            access_log_class=AccessLog,
            access_log=access_log,
            keepalive_timeout=s.http_keepalive_timeout,
            shutdown_timeout=10,
            guard=dict(
                max_connections=s.http_max_connections, read_timeout=s.http_read_timeout, flood=self.flood
            ),
        )
        await self.runner.setup()
        self.site = web.TCPSite(self.runner, host, port, backlog=512)
        await self.site.start()

    async def stop(self) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.cleanup()
            self.flood.close()


class _Runner(web.AppRunner):
    def __init__(self, app: web.Application, *, guard: dict, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._guard = guard

    async def _make_server(self) -> Server:
        plain = await super()._make_server()  # runs the app's startup, freezes it
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **self._guard,
            **plain._kwargs,
        )
