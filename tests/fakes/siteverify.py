"""A local fake of a captcha provider's ``siteverify`` (Cloudflare Turnstile, hCaptcha), on 127.0.0.1.

It answers like the providers document: a form POST with ``secret``, ``response`` and
optionally ``remoteip`` (and ``sitekey`` for hCaptcha) gets JSON ``{"success": ...,
"error-codes": [...]}``. Tokens it "issued" (``issue()``) pass once; a second use answers
``timeout-or-duplicate``; unknown tokens answer ``invalid-input-response``; a wrong secret
answers ``invalid-input-secret``. ``delay`` makes it slow (to test timeouts).

    async with FakeSiteverify(secret="s3cret") as fake:     # fake.url -> http://127.0.0.1:<port>/siteverify
        token = fake.issue()
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class FakeSiteverify:
    secret: str
    delay: float = 0.0  # float ok: seconds before answering
    calls: list[dict[str, str]] = field(default_factory=list)
    _issued: set[str] = field(default_factory=set)
    _spent: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    url: str = ""

    def issue(self) -> str:
        """A token as the widget would hand it to a person who passed."""
        token = "XXXX.FAKE." + secrets.token_urlsafe(24)
        self._issued.add(token)
        return token

    async def _verify(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.calls.append({k: str(v) for k, v in form.items()})
        if self.delay:
            await asyncio.sleep(self.delay)
        token, secret = form.get("response"), form.get("secret")
        if not secret:
            return web.json_response({"success": False, "error-codes": ["missing-input-secret"]})
        if secret != self.secret:
            return web.json_response({"success": False, "error-codes": ["invalid-input-secret"]})
        if not token:
            return web.json_response({"success": False, "error-codes": ["missing-input-response"]})
        if token in self._spent:
            return web.json_response({"success": False, "error-codes": ["timeout-or-duplicate"]})
        if token not in self._issued:
            return web.json_response({"success": False, "error-codes": ["invalid-input-response"]})
        self._spent.add(token)
        return web.json_response(
            {
                "success": True,
                "challenge_ts": "2026-12-01T12:00:00Z",
                "hostname": "dustpan.example",
                "error-codes": [],
            }
        )

    async def __aenter__(self) -> FakeSiteverify:
        app = web.Application()
        app.router.add_post("/siteverify", self._verify)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/siteverify"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
