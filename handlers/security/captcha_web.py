"""The Mini App captcha: a page inside Telegram that runs Cloudflare Turnstile or hCaptcha.

With ``CAPTCHA_PROVIDER=turnstile|hcaptcha`` a feature sends a button that opens
``PUBLIC_URL/captcha/{challenge}`` as a Mini App (``page_url``). The page shows the
provider's widget; its token goes with Telegram's ``initData`` to ``POST .../verify``:

1. ``initData`` must carry Telegram's signature (HMAC-SHA256 keyed with
   HMAC-SHA256("WebAppData", bot token)) and be at most ``INIT_DATA_MAX_AGE`` old: that
   names the user, and the challenge must be theirs, open and of this provider;
2. a token seen before is refused without asking the provider;
3. the provider's siteverify (``CAPTCHA_VERIFY_URL``) judges the token, with the
   client's address when it is a public one; no answer in time is "try again", not a
   verdict, and leaves the challenge open;
4. the feature that asked (``register(purpose, ...)``) settles the challenge with the
   verdict and the token in one transaction (one answer per challenge, one use per token).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from core.config import Settings
from core.errors import DomainError
from core.identity import captcha
from core.identity.users import DEFAULT_LANGUAGE, LANGUAGES, get_user, supported_language
from core.platform.db import Database
from core.platform.params import Params
from handlers.common.i18n import _, get_i18n

log = logging.getLogger(__name__)

INIT_DATA_MAX_AGE = 3600  # seconds: a Mini App opened an hour ago must be opened again
MAX_TOKEN = 2048  # Turnstile's documented maximum token length; hCaptcha's are shorter
MAX_INIT_DATA = 4096
WIDGETS = {  # provider -> (script, container class)
    "turnstile": ("https://challenges.cloudflare.com/turnstile/v0/api.js", "cf-turnstile"),
    "hcaptcha": ("https://js.hcaptcha.com/1/api.js", "h-captcha"),
}
# Error codes that say our configuration (or the provider) is at fault, not the user's token.
_OUR_FAULT = {"missing-input-secret", "invalid-input-secret", "internal-error", "sitekey-secret-mismatch"}


@dataclass(frozen=True, slots=True)
class Purpose:
    """How a feature settles its challenges: ``ttl(params)`` seconds, and
    ``settle(web, user_id, challenge_id, kind, passed, token) -> (text, paid)``."""

    ttl: Callable[[Params], int]
    settle: Callable[..., Awaitable[tuple[str, bool]]]


PURPOSES: dict[str, Purpose] = {}


def register(purpose: str, *, ttl: Callable[[Params], int], settle) -> None:
    PURPOSES[purpose] = Purpose(ttl, settle)


def page_url(settings: Settings, challenge_id: int, locale: str) -> str:
    return f"{settings.public_url}/captcha/{challenge_id}?lang={locale}"


class CaptchaWeb:
    """Per-process state of the Mini App routes."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.params = Params()
        self.http: aiohttp.ClientSession | None = None


STATE_KEY = web.AppKey("captcha_web", CaptchaWeb)


def verify_init_data(init_data: str, bot_token: str, *, now: float | None = None) -> dict | None:
    """Telegram's ``initData`` checked as its Mini App docs say; the ``user`` object, or None.

    Refuses a missing or wrong hash, a repeated field, a missing or stale ``auth_date``
    (older than INIT_DATA_MAX_AGE), and a user without a numeric id.
    """
    if not init_data or len(init_data) > MAX_INIT_DATA:
        return None
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs) or "hash" not in fields:
        return None
    given = fields.pop("hash")
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(hmac.new(secret, check.encode(), hashlib.sha256).hexdigest(), given):
        return None
    auth = fields.get("auth_date", "")
    now = time.time() if now is None else now
    if not (auth.isascii() and auth.isdigit()) or not -60 < now - int(auth) < INIT_DATA_MAX_AGE:
        return None
    try:
        user = json.loads(fields.get("user", ""))
    except ValueError:
        return None
    if not isinstance(user, dict) or not isinstance(user.get("id"), int) or user["id"] <= 0:
        return None
    return user


async def siteverify(
    http: aiohttp.ClientSession, settings: Settings, token: str, remoteip: str | None
) -> bool | None:
    """The provider's verdict on ``token``: True (a person), False (not), or None when it could
    not be had (timeout, network, our keys refused): then nothing is decided."""
    form = {"secret": settings.captcha_secret_key, "response": token}
    if remoteip:
        form["remoteip"] = remoteip
    if settings.captcha_provider == "hcaptcha":
        form["sitekey"] = settings.captcha_site_key  # hCaptcha then refuses tokens of other sites
    try:
        timeout = aiohttp.ClientTimeout(total=settings.captcha_verify_timeout)
        async with http.post(settings.captcha_verify_url, data=form, timeout=timeout) as resp:
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        log.warning("captcha siteverify failed: %s", type(err).__name__)
        return None
    if not isinstance(body, dict):
        log.warning("captcha siteverify answered something that is not a JSON object")
        return None
    if body.get("success") is True:
        return True
    codes = body.get("error-codes") or []
    if isinstance(codes, list) and _OUR_FAULT.intersection(map(str, codes)):
        log.error("captcha siteverify refused our keys or failed: %s", ", ".join(map(str, codes))[:200])
        return None
    return False


def client_address(request: web.Request) -> str | None:
    """The caller's address for siteverify's ``remoteip``, when it is a public one (behind a
    proxy on this host or network, request.remote is the proxy's: better none than that)."""
    try:
        address = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return None
    return str(address) if address.is_global else None


def _lang(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def _js(value: str) -> str:
    return json.dumps(value).replace("</", "<\\/")


PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title>
<script src="https://telegram.org/js/telegram-web-app.js"></script>
<script src="{widget}" async defer></script>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;text-align:center;
color:var(--tg-theme-text-color,#222);background:var(--tg-theme-bg-color,#fff)}}
#result{{min-height:3em;font-size:1.1em}} button{{font-size:1em;padding:.6em 1.4em}}
</style></head><body>
<h1>{title}</h1><p>{hint}</p>
<div class="{box}" data-sitekey="{sitekey}" data-callback="onToken"></div>
<p id="result" role="status" aria-live="polite"></p>
<button id="close" hidden>{close}</button>
<script>
const tg = window.Telegram && window.Telegram.WebApp;
if (tg) tg.ready();
async function onToken(token) {{
  const out = document.getElementById("result");
  if (!tg || !tg.initData) {{ out.textContent = {outside}; return; }}
  out.textContent = {checking};
  try {{
    const r = await fetch(location.pathname.replace(/\\/$/, "") + "/verify", {{
      method: "POST", headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{init_data: tg.initData, token: token}})}});
    const body = await r.json();
    out.textContent = body.text;
    if (body.ok) setTimeout(function () {{ tg.close(); }}, 4000);
  }} catch (e) {{ out.textContent = {failed}; }}
  document.getElementById("close").hidden = false;
}}
document.getElementById("close").onclick = function () {{ if (tg) tg.close(); }};
</script></body></html>
"""
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline' https://telegram.org "
        "https://challenges.cloudflare.com https://hcaptcha.com https://*.hcaptcha.com; "
        "frame-src https://challenges.cloudflare.com https://hcaptcha.com https://*.hcaptcha.com; "
        "style-src 'self' 'unsafe-inline' https://hcaptcha.com https://*.hcaptcha.com; "
        "connect-src 'self' https://hcaptcha.com https://*.hcaptcha.com"
    ),
}


async def page(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    provider = state.settings.captcha_provider
    if provider not in WIDGETS:
        raise web.HTTPNotFound()
    lang = _lang(request.query.get("lang"))
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale(lang):
        text = PAGE.format(
            lang=lang,
            title=html.escape(_("Confirm you are a person")),
            hint=html.escape(_("Complete the check below. The reward is paid as soon as it passes.")),
            close=html.escape(_("Close")),
            widget=WIDGETS[provider][0],
            box=WIDGETS[provider][1],
            sitekey=html.escape(state.settings.captcha_site_key),
            outside=_js(_("Open this page from the bot's button in Telegram.")),
            checking=_js(_("Checking…")),
            failed=_js(_("The check could not be sent. Please try again.")),
        )
    return web.Response(text=text, content_type="text/html", headers=_HEADERS)


def _answer(status: int, ok: bool, code: str, text: str) -> web.Response:
    return web.json_response({"ok": ok, "status": code, "text": text}, status=status)


_REFUSALS = {
    "challenge_unknown": 404,
    "challenge_used": 409,
    "challenge_replaced": 409,
    "token_used": 409,
    "challenge_expired": 410,
}


async def verify(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    settings = state.settings
    if settings.captcha_provider not in WIDGETS:
        raise web.HTTPNotFound()
    try:
        body = await request.json()
    except ValueError:
        body = None
    init_data = body.get("init_data") if isinstance(body, dict) else None
    token = body.get("token") if isinstance(body, dict) else None
    user = verify_init_data(init_data, settings.bot_token) if isinstance(init_data, str) else None
    i18n = get_i18n()
    if user is None:
        with i18n.context(), i18n.use_locale(_lang(request.query.get("lang"))):
            return _answer(403, False, "forbidden", _("Open this page from the bot's button in Telegram."))
    try:
        known = await state.db.read(get_user, user["id"])
        locale = known.locale
    except DomainError:
        locale = supported_language(user.get("language_code")) or DEFAULT_LANGUAGE
    with i18n.context(), i18n.use_locale(locale):
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            return _answer(400, False, "bad_token", _("The check did not finish. Please solve it again."))
        return await _settle(request, state, user["id"], int(request.match_info["id"]), token)


async def _settle(request: web.Request, state: CaptchaWeb, user_id: int, challenge_id: int, token: str):
    from handlers.common.errors import explain

    db, settings = state.db, state.settings
    await state.params.refresh(db)
    try:
        ch = await db.read(captcha.open_challenge, challenge_id, user_id)
        purpose = PURPOSES.get(ch.purpose)
        if purpose is None or ch.kind != settings.captcha_provider:
            raise captcha.CaptchaError("challenge_unknown")
        if time.time() - ch.created_at.timestamp() > purpose.ttl(state.params):
            raise captcha.CaptchaError("challenge_expired")
        if await db.read(captcha.token_seen, token):
            raise captcha.CaptchaError("token_used")
    except DomainError as err:
        return _answer(_REFUSALS.get(err.reason, 409), False, err.reason, explain(err))
    assert state.http is not None, "opened when the app starts (_start)"
    verdict = await siteverify(state.http, settings, token, client_address(request))
    if verdict is None:
        text = _("The check could not be confirmed right now. Nothing was changed; please try again.")
        return _answer(503, False, "unavailable", text)
    try:
        text, paid = await purpose.settle(state, user_id, challenge_id, ch.kind, verdict, token)
    except DomainError as err:
        return _answer(_REFUSALS.get(err.reason, 409), False, err.reason, explain(err))
    log.info("captcha %s for challenge %s: %s", ch.kind, challenge_id, "passed" if verdict else "failed")
    return _answer(200, paid, "passed" if verdict else "failed", text)


async def _start(app: web.Application) -> None:
    app[STATE_KEY].http = aiohttp.ClientSession()


async def _stop(app: web.Application) -> None:
    if (http := app[STATE_KEY].http) is not None:
        await http.close()


def setup(app: web.Application) -> None:
    from handlers.web import DB_KEY, SETTINGS_KEY  # here: handlers.web imports this module

    app[STATE_KEY] = CaptchaWeb(app[DB_KEY], app[SETTINGS_KEY])
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    app.router.add_get(r"/captcha/{id:[1-9][0-9]{0,14}}", page)
    app.router.add_post(r"/captcha/{id:[1-9][0-9]{0,14}}/verify", verify)
