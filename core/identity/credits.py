"""An admin's credit or debit of a user found by numeric id or @name.

The money moves in core.money.treasury (which knows users only by id); this finds the user
in the same transaction, so a credit to an unknown user moves nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection

from core.identity.users import find_user
from core.money import Transfer, treasury


def credit_user(
    conn: Connection, *, admin_id: int, user_ref: str, asset: str, amount: int, reason: str, key: str
) -> tuple[int, Transfer]:
    """Treasury -> the user ``user_ref`` names, e.g. a goodwill payment: (the user's id, the transfer)."""
    user = find_user(conn, user_ref)
    return user.id, treasury.credit_user(
        conn, admin_id=admin_id, user_id=user.id, asset=asset, amount=amount, reason=reason, key=key
    )


def debit_user(
    conn: Connection, *, admin_id: int, user_ref: str, asset: str, amount: int, reason: str, key: str
) -> tuple[int, Transfer]:
    """The user ``user_ref`` names -> treasury, never below their balance: (the user's id, the transfer)."""
    user = find_user(conn, user_ref)
    return user.id, treasury.debit_user(
        conn, admin_id=admin_id, user_id=user.id, asset=asset, amount=amount, reason=reason, key=key
    )
