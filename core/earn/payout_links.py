"""Payout links: the addresses a user links to their account so faucet sites can pay them.

Faucet scripts written for FaucetPay pay "an address"; here such an address finds the
Dustpan user who linked it (or a Telegram @username does). One address of an asset
belongs to one user: the first to link it, until someone proves with a signature that
they hold its key (``take_over``, called by core.cashout.addressbook.claim_address). The
withdrawal address book (cash-out) keeps this table in step with itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, select

from core.earn.tables import payout_links
from core.errors import DomainError
from core.identity import id_by_username
from core.money import AddressReason as Reason
from core.money import InvalidAddress, get_asset, validate_address
from core.platform import per_engine, utcnow

MAX_LINKS = 20
_USERNAME = re.compile(r"@?([A-Za-z0-9_]{4,32})", re.ASCII)
_LENIENT = re.compile(r"[A-Za-z0-9:_.-]{4,128}", re.ASCII)


def normalise(asset: str, address: str, *, strict: bool, network: str = "mainnet") -> str:
    """The stored form of ``address``: checked and normalised by core.money.addresses where the
    asset has a chain (against ``network``); otherwise (DUST, or lenient lookups) the trimmed text."""
    try:
        return validate_address(asset, address, network).text
    except InvalidAddress as err:
        if strict and err.reason != Reason.UNSUPPORTED_ASSET:
            raise
    text = (address or "").strip()
    if not _LENIENT.fullmatch(text):
        raise InvalidAddress(Reason.BAD_CHARS)
    return text


def _insert(insert: Callable[[Table], Any]) -> Any:
    return insert(payout_links).on_conflict_do_nothing()


_INSERT = per_engine(_insert)
_OWNER = select(payout_links.c.user_id).where(
    payout_links.c.asset == bindparam("s"), payout_links.c.address == bindparam("a")
)
# Linking reads the owner with a row lock (PostgreSQL), so a takeover that deleted the row
# in a transaction not yet committed makes it wait and then see the new owner.
_OWNER_LOCKED = _OWNER.with_for_update()


def link(
    conn: Connection,
    user_id: int,
    asset: str,
    address: str,
    now: datetime | None = None,
    network: str = "mainnet",
) -> str:
    """Link ``address`` of ``asset`` to ``user_id``; returns the stored form. Linking again is
    harmless. ``network``: the one the bot runs on (``cashout.network``)."""
    asset = get_asset(asset).code
    text = normalise(asset, address, strict=True, network=network)
    owner = conn.execute(_OWNER_LOCKED, {"s": asset, "a": text}).scalar()
    if owner is not None and owner != user_id:
        raise DomainError("address_taken")
    if owner is None:
        count = conn.execute(
            select(func.count()).select_from(payout_links).where(payout_links.c.user_id == user_id)
        ).scalar_one()
        if count >= MAX_LINKS:
            raise DomainError("too_many_links", limit=MAX_LINKS)
        conn.execute(
            _INSERT.of(conn),
            dict(asset=asset, address=text, user_id=user_id, created_at=now or utcnow()),
        )
        if conn.execute(_OWNER, {"s": asset, "a": text}).scalar() != user_id:
            raise DomainError("address_taken")  # someone linked it a moment before
    return text


def owner_of(conn: Connection, asset: str, address: str) -> int | None:
    """Who linked ``address`` (in its stored form) of ``asset``, if anyone."""
    return conn.execute(_OWNER, {"s": get_asset(asset).code, "a": address}).scalar()


def take_over(
    conn: Connection,
    user_id: int,
    asset: str,
    address: str,
    now: datetime | None = None,
    network: str = "mainnet",
) -> int | None:
    """Move the link of ``address`` (stored form) to ``user_id``, whoever held it; the previous
    holder (or None). Only for a caller that checked a proof of the key (core.cashout.addressbook)."""
    asset = get_asset(asset).code
    previous = conn.execute(
        delete(payout_links)
        .where(payout_links.c.asset == asset, payout_links.c.address == address)
        .returning(payout_links.c.user_id)
    ).scalar()
    link(conn, user_id, asset, address, now, network)
    return previous


def unlink(conn: Connection, user_id: int, asset: str, address: str) -> bool:
    asset = get_asset(asset).code
    text = normalise(asset, address, strict=False)
    result = conn.execute(
        delete(payout_links).where(
            payout_links.c.asset == asset, payout_links.c.address == text, payout_links.c.user_id == user_id
        )
    )
    return result.rowcount == 1


def find_user(conn: Connection, asset: str, to: str) -> int | None:
    """The user an API ``to`` names: a linked address of ``asset`` or a Telegram username."""
    to = (to or "").strip()
    if not to or len(to) > 128:
        return None
    try:
        text = normalise(asset, to, strict=False)
    except InvalidAddress:
        text = None
    if text is not None:
        found: int | None = conn.execute(_OWNER, {"s": asset, "a": text}).scalar()
        if found is not None:
            return found
    m = _USERNAME.fullmatch(to)
    if m is None:
        return None
    return id_by_username(conn, m[1])


def find_by_address(conn: Connection, asset: str, to: str) -> int | None:
    """The user who linked ``to`` as an address of ``asset``; None for anything else,
    a username included. A site that pays an address was given it by the user."""
    to = (to or "").strip()
    if not to or len(to) > 128:
        return None
    try:
        text = normalise(asset, to, strict=False)
    except InvalidAddress:
        return None
    return conn.execute(_OWNER, {"s": asset, "a": text}).scalar()
