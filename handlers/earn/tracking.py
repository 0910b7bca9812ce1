"""``GET /go/<token>``: the tracking link behind an ad's Visit button.

The token (core.earn.ad_tokens) is checked here, without the database: its shape, its
signature under ``SECRET_KEY`` and its age (``ads.token_ttl``). Its first open records the
visit's start on the server's clock (core.earn.ads.start_visit, one write) and answers 302 to
the advertiser's URL. Anything else (opened before, expired, forged, truncated, an ad that no
longer runs) gets a small HTML page that says why, in the viewer's language when the token's
signature names the viewer, and records nothing.
"""

from __future__ import annotations

import html
import time

from aiohttp import web

from core.config import Settings
from core.earn import ad_tokens, ads
from core.errors import UnknownUser
from core.identity.users import DEFAULT_LANGUAGE, get_user
from core.platform.db import Database
from core.platform.params import Params
from handlers.common.i18n import _, get_i18n

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Robots-Tag": "noindex",
}
PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title><style>body{{font-family:sans-serif;max-width:30em;margin:3em auto;padding:0 1em}}</style>
</head><body><h1>{title}</h1><p>{text}</p></body></html>
"""


class Tracking:
    """Per-process state of the route: the database, the secret and the settings in force."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.params = Params()


STATE_KEY = web.AppKey("ad_tracking", Tracking)


def reasons() -> dict[str, str]:
    """Why a link opens no ad, in the current language."""
    return {
        "token_used": _(
            "This link was already opened. Go back to the bot and tap Claim, or get the next ad."
        ),
        "token_expired": _("This link has expired. Open /ads in the bot for a fresh one."),
        "token_forged": _("This link is not valid: it is damaged or was not made by the bot."),
        "ad_unavailable": _("This ad is no longer running. Open /ads in the bot for another one."),
    }


async def go(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    text = request.match_info.get("token", "")
    await state.params.refresh(state.db)
    now = time.time()
    try:
        token = ad_tokens.read(
            state.settings.secret_key, text, now=int(now), ttl=state.params.get("ads.token_ttl")
        )
        url = await state.db.write(ads.start_visit, token)
    except ad_tokens.TokenError as err:
        return await refused(state, text, err.reason)
    raise web.HTTPFound(url, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def refused(state: Tracking, text: str, reason: str) -> web.Response:
    user_id = ad_tokens.signed_user(state.settings.secret_key, text)
    lang = DEFAULT_LANGUAGE
    if user_id is not None:
        try:
            lang = (await state.db.read(get_user, user_id)).locale
        except UnknownUser:
            pass
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale(lang):
        page = PAGE.format(
            lang=lang,
            title=html.escape(_("This ad link cannot be used")),
            text=html.escape(reasons().get(reason, reasons()["token_forged"])),
        )
    status = 404 if reason in ("token_forged",) else 410
    return web.Response(text=page, status=status, content_type="text/html", headers=_HEADERS)


def setup(app: web.Application) -> None:
    from handlers.web import DB_KEY, SETTINGS_KEY  # here: handlers.web imports this module

    app[STATE_KEY] = Tracking(app[DB_KEY], app[SETTINGS_KEY])
    app.router.add_get(r"/go/{token:[^/]{0,200}}", go)
    app.router.add_get("/go/", go)
