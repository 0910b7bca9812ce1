"""One place that turns core's refusals into sentences in the user's language.

Features add the reasons they raise with ``explain.register(reason, text)``
(text may use the error's params as {placeholders}). Anything unexpected is
logged with its context, and the user is told that nothing was changed.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from aiogram import Router
from aiogram.types import ErrorEvent, Message
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from core.errors import DomainError
from core.identity.users import DEFAULT_LANGUAGE, User
from core.platform.db import DatabaseUnavailable
from handlers.common.i18n import _, __, amount, get_i18n
from handlers.common.taps import current_tap_answered, is_not_modified

log = logging.getLogger(__name__)

Text = Callable[[DomainError], str]
_REASONS: dict[object, Text] = {}


def register(reason: str, text, *, kind: type[DomainError] | None = None) -> None:
    """Map a DomainError reason to a lazy string or to a function of the error.

    With ``kind``, the text applies only to that error class (and its subclasses), so two
    features can use the same reason word (an empty amount, an empty address) apart.
    """
    render = (lambda e, t=text: str(t)) if isinstance(text, LazyProxy | str) else text
    _REASONS[(kind, reason) if kind else reason] = render


def _render_for(error: DomainError):
    for cls in type(error).__mro__:
        render = _REASONS.get((cls, error.reason))
        if render is not None:
            return render
    return _REASONS.get(error.reason)


def explain(error: DomainError, *, as_html: bool = False) -> str:
    """The translated sentence for a refusal (in the current locale).

    ``as_html``: for a message sent with HTML parse mode. The error's params often hold
    what the user typed ("<b addr"), so they are escaped, or Telegram would refuse the reply.
    """
    render = _render_for(error)
    if render is None:
        return _("That cannot be done right now. Nothing was changed.")
    if as_html:  # the text was chosen by the error's class above; renders read only params
        error = DomainError(
            error.reason, **{k: html.escape(v) if isinstance(v, str) else v for k, v in error.params.items()}
        )
    try:
        return render(error).format(**{k: v for k, v in error.params.items()})
    except (KeyError, IndexError, ValueError):
        return render(error)


def _int(value: object) -> int:
    return value if isinstance(value, int) else int(str(value))


def _insufficient(e: DomainError) -> str:
    return _("Not enough {asset} for that: it needs {amount}.").format(
        asset=e.params["asset"], amount=amount(_int(e.params["amount"]), str(e.params["asset"]))
    )


def _balance_limit(e: DomainError) -> str:
    return _(
        "That would take the {account} account past the largest balance an account may hold ({limit}). "
        "Nothing was changed."
    ).format(account=e.params["account"], limit=amount(_int(e.params["limit"]), str(e.params["asset"])))


register("insufficient_funds", _insufficient)
register("balance_limit", _balance_limit)
register("unknown_asset", __("Unknown coin “{code}”. We support BTC, LTC, DOGE, USDT, TRX and DUST."))
register("unknown_account", __("Unknown account “{name}”."))
register("unknown_user", __("No user “{ref}” here. Use a numeric Telegram id or @username."))
register("idempotency_conflict", __("That request clashes with an earlier one. Nothing was changed."))
register("empty", __("Please enter an amount, like 0.0001."))
register("too_long", __("That amount is too long."))
register("negative", __("The amount must be positive."))
register("zero", __("The amount must be greater than zero."))
register(
    "not_a_number", __("That is not an amount. Write digits with an optional decimal point, like 0.0001.")
)
register("exponent", __("Please write the amount in full, like 0.00000001, not with an exponent."))
register("too_many_decimals", __("{asset} has at most {decimals} decimal places."))
register("too_large", __("That amount is far too large."))
register("bad_value", __("“{value}” is not a valid value for {key}."))
register("out_of_range", __("{value} is outside the allowed range for {key}."))
register("unknown_key", __("There is no setting called {key}."))
register("stale_button", __("This button is no longer valid. Send /start for a fresh menu."))  # data.shown


async def on_error(event: ErrorEvent, user: User | None = None) -> None:
    # aiogram's error middleware is the outermost one, so the locale is set again here.
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale(user.locale if user else DEFAULT_LANGUAGE):
        await _tell(event)


async def _tell(event: ErrorEvent) -> None:
    exc = event.exception
    update = event.update
    if is_not_modified(exc):  # the message already shows what was asked (handlers.common.taps)
        return
    if isinstance(exc, DomainError):
        text = explain(exc, as_html=update.callback_query is None)  # alerts are plain text
    elif isinstance(exc, DatabaseUnavailable):  # the writer logs the cause; one line per update here
        log.warning("update %s not handled: %s", update.update_id, exc)
        text = _(
            "Sorry, the bot cannot save anything right now, so nothing was changed. Please try again in a minute."
        )
    else:
        log.error(
            "update %s failed: %s: %s",
            update.update_id,
            type(exc).__name__,
            exc,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        text = _("Sorry, something went wrong on our side and nothing was changed. Please try again.")
    try:
        query = update.callback_query
        if query is not None and current_tap_answered() and isinstance(query.message, Message):
            await query.message.answer(text)  # a second answer would never reach the phone
        elif query is not None:
            await query.answer(text, show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)
    except Exception:
        log.warning("could not tell the user about an error in update %s", update.update_id, exc_info=True)


def router() -> Router:
    routes = Router(name=__name__)
    routes.errors.register(on_error)
    return routes
