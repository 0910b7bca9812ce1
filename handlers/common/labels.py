"""What caused a movement, in words: ledger ``code`` -> translated label for /history.

A feature registers the codes it posts: ``register("faucet", __("Faucet claim"))``.
"""

from __future__ import annotations

from core.money.codes import Code
from handlers.common.i18n import __

_LABELS: dict[str, object] = {
    Code.DEPOSIT: __("Deposit"),
    Code.FUND: __("Pool funding"),
    Code.ADMIN_CREDIT: __("Credit from the Dustpan team"),
    Code.ADMIN_DEBIT: __("Adjustment by the Dustpan team"),
    Code.CORRECTION: __("Correction"),
}


def register(code: str, text) -> None:
    """``code`` is a core.money.codes.Code (a str): every code needs one (a test checks)."""
    _LABELS[code] = text


def registered() -> set[str]:
    """The codes that have a label."""
    return set(_LABELS)


def label(code: str) -> str:
    text = _LABELS.get(code)
    return str(text) if text is not None else str(__("Transfer"))
