"""A round-robin HTTP load balancer on 127.0.0.1, for tests that run several bot instances.

Each request goes to the next backend in turn; a backend that refuses the connection (a killed
instance, or one that dies mid-request) is skipped for the next one, as a load balancer's health
check would, and the request is answered 502 only when none is up. ``routed`` records, per request, the backend that answered
it and the ``update_id`` of a webhook body, so a test can show which instance handled an update::

    async with RoundRobin([f"http://127.0.0.1:{p}" for p in ports]) as lb:
        WEBHOOK_URL = lb.url + "/tg/hook"
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp
from aiohttp import web

_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "content-encoding"}


@dataclass
class Routed:
    backend: int  # index into backends
    path: str
    status: int
    update_id: int | None


class RoundRobin:
    def __init__(self, backends: list[str], *, timeout: float = 65.0) -> None:  # float ok: seconds
        self.backends = list(backends)
        self.routed: list[Routed] = []
        self.timeout = timeout
        self._next = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> RoundRobin:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> RoundRobin:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def handled_by(self, update_id: int) -> int | None:
        """The backend that answered the webhook delivery of ``update_id`` (the last, if retried)."""
        hits = [r.backend for r in self.routed if r.update_id == update_id and 200 <= r.status < 300]
        return hits[-1] if hits else None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        update_id = None
        try:
            data = json.loads(body) if body else None
            if isinstance(data, dict) and isinstance(data.get("update_id"), int):
                update_id = data["update_id"]
        except ValueError:
            pass
        for _ in range(len(self.backends)):
            index = self._next
            self._next = (self._next + 1) % len(self.backends)
            url = self.backends[index] + request.rel_url.path_qs
            try:
                async with self._session.request(request.method, url, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    self.routed.append(Routed(index, request.path, resp.status, update_id))
                    out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
                    return web.Response(status=resp.status, body=payload, headers=out)
            except (aiohttp.ClientError, TimeoutError):
                continue  # that instance is down (or died mid-request, as Telegram would retry): the next one
        return web.Response(status=502, text="no backend is up")
