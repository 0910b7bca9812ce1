"""How each notice template reads. A feature registers its templates:

    notices.register("faucet_referral", lambda p: _("Your friend earned you {amount}").format(...))

The function runs in the recipient's locale (the sender sets it), so it calls _().
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

from handlers.common.i18n import _, get_i18n

Render = Callable[[dict], str]
_TEMPLATES: dict[str, Render] = {}


def register(template: str, render: Render) -> None:
    _TEMPLATES[template] = render


def render(template: str, params: dict) -> str:
    fn = _TEMPLATES.get(template)
    if fn is None:
        return html.escape(str(params.get("text", ""))) or _("You have a new notification.")
    return fn(params)


def render_in(locale: str, template: str, params: Mapping[str, Any]) -> str:
    """A notice's text in ``locale``: what jobs.notify sends (bot.py hands it over)."""
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale(locale):
        return render(template, dict(params))


def ledger_alert(problems: list[str]) -> str:
    """The admins' alert when the books do not balance (jobs.ledger_check), in English."""
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale("en"):
        return _("⚠️ Ledger check failed:") + "\n" + "\n".join(problems)


register("text", lambda p: html.escape(str(p.get("text", ""))))
