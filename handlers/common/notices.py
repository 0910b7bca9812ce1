"""How each notice template reads. A feature registers its templates:

    notices.register("faucet_referral", lambda p: _("Your friend earned you {amount}").format(...))

The function runs in the recipient's locale (the sender sets it), so it calls _().
"""

from __future__ import annotations

import html
from collections.abc import Callable

from handlers.common.i18n import _

Render = Callable[[dict], str]
_TEMPLATES: dict[str, Render] = {}


def register(template: str, render: Render) -> None:
    _TEMPLATES[template] = render


def render(template: str, params: dict) -> str:
    fn = _TEMPLATES.get(template)
    if fn is None:
        return html.escape(str(params.get("text", ""))) or _("You have a new notification.")
    return fn(params)


register("text", lambda p: html.escape(str(p.get("text", ""))))
