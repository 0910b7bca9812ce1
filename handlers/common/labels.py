"""What caused a movement, in words: ledger ``code`` -> translated label for /history.

A feature registers the codes it posts: ``register("faucet", __("Faucet claim"))``.
"""

from __future__ import annotations

from handlers.common.i18n import __

_LABELS: dict[str, object] = {
    "deposit": __("Deposit"),
    "fund": __("Pool funding"),
    "admin_credit": __("Credit from the Dustpan team"),
    "admin_debit": __("Adjustment by the Dustpan team"),
    "correction": __("Correction"),
}


def register(code: str, text) -> None:
    _LABELS[code] = text


def label(code: str) -> str:
    text = _LABELS.get(code)
    return str(text) if text is not None else str(__("Transfer"))
