"""The withdrawal address book: per user and asset, labelled, validated, normalised addresses.

Adding or changing an address needs the 2FA code when 2FA is on (core.identity.twofa.require,
in the same transaction). Addresses are checked by core.money.addresses against the network
in force (param ``cashout.network``: mainnet refuses testnet addresses).

The same addresses are where faucet sites pay the user (core.earn.payout_links), and an
address belongs to the first user who saves it. Someone else who holds its key takes it
over: ``claim_challenge`` gives the text to sign (core.cashout.address_proof), ``claim_address``
checks the signature and moves the address, link and book entry, from the squatter to
them in one transaction, audited, with a notice to the squatter.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    String,
    Table,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)

from core.cashout import address_proof
from core.cashout.address_proof import ProofError
from core.earn import payout_links
from core.errors import DomainError
from core.identity import twofa
from core.money.addresses import NETWORKS, Address, validate_address
from core.money.assets import get_asset
from core.platform import audit, notices
from core.platform.params import define
from core.platform.schema import UTCDateTime, id_column, metadata, utcnow

withdrawal_addresses = Table(
    "withdrawal_addresses",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("label", String(24), nullable=False),
    Column("address", String(128), nullable=False, comment="normal form from core.money.addresses"),
    Column("chain", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "label", name="uq_withdrawal_addresses_user_label"),
)

define("cashout.network", "mainnet", "text", choices=NETWORKS)
MAX_ENTRIES = 20
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,24}", re.ASCII)


class AddressBookError(DomainError):
    """bad_label, label_taken_other_asset, too_many_addresses, no_such_label, address_not_taken."""


@dataclass(frozen=True, slots=True)
class Entry:
    label: str
    asset: str
    address: str
    chain: str


def _entry(r) -> Entry:
    return Entry(r.label, r.asset, r.address, r.chain)


def list_addresses(conn: Connection, user_id: int) -> list[Entry]:
    q = select(withdrawal_addresses).where(withdrawal_addresses.c.user_id == user_id)
    return [
        _entry(r)
        for r in conn.execute(q.order_by(withdrawal_addresses.c.asset, withdrawal_addresses.c.label))
    ]


def check_label(label: str) -> str:
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise AddressBookError("bad_label")
    return label.lower()


def check_entry(asset: str, address: str, label: str, network: str) -> tuple[str, Address]:
    """The label and the validated address of an entry to save, before any code is asked for:
    a bad label, a bad or testnet address is refused first (AddressBookError, InvalidAddress)."""
    return check_label(label), validate_address(get_asset(asset).code, address, network)


def save_address(
    conn: Connection,
    user_id: int,
    asset: str,
    address: str,
    label: str,
    *,
    network: str,
    code: str | None,
    secret_key: str,
    max_failures: int,
    twofa_session: int = 0,
    now: datetime | None = None,
) -> Entry:
    """Add (or change, when ``label`` exists) an address. Needs the 2FA code when 2FA is on
    (``twofa_session``: the setting twofa.session, see core.identity.twofa.require)."""
    now = now or utcnow()
    label, checked = check_entry(asset, address, label, network)
    twofa.require(conn, user_id, code, secret_key, now, max_failures=max_failures, session=twofa_session)
    return _save(conn, user_id, checked, label, now)


def _save(conn: Connection, user_id: int, checked: Address, label: str, now: datetime) -> Entry:
    code_asset = checked.asset
    mine = withdrawal_addresses.c.user_id == user_id
    old = conn.execute(
        select(withdrawal_addresses).where(mine, withdrawal_addresses.c.label == label)
    ).first()
    values = dict(asset=code_asset, address=checked.text, chain=checked.chain)
    # The same addresses are where faucet sites pay the user (core.earn.payout_links): one list to keep.
    payout_links.link(conn, user_id, code_asset, checked.text, now, checked.network)
    if old is not None:
        conn.execute(update(withdrawal_addresses).where(withdrawal_addresses.c.id == old.id).values(**values))
        if (old.asset, old.address) != (code_asset, checked.text):
            _unlink_unless_kept(conn, user_id, old.asset, old.address)
    else:
        if conn.execute(select(func.count()).where(mine)).scalar_one() >= MAX_ENTRIES:
            raise AddressBookError("too_many_addresses", limit=MAX_ENTRIES)
        conn.execute(
            withdrawal_addresses.insert().values(user_id=user_id, label=label, created_at=now, **values)
        )
    audit.record(conn, "address_saved", actor=user_id, target=label, asset=code_asset, address=checked.text)
    return Entry(label, code_asset, checked.text, checked.chain)


@dataclass(frozen=True, slots=True)
class Challenge:
    """What a user signs to take an address over; ``text`` is the exact message."""

    asset: str
    address: str  # normal form
    label: str
    text: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    entry: Entry
    previous_owner: int | None


def claim_challenge(
    conn: Connection,
    user_id: int,
    asset: str,
    address: str,
    label: str,
    *,
    network: str,
    secret_key: str,
    now: datetime | None = None,
) -> Challenge:
    """The message that proves ``address`` is the user's, when another user linked it first.

    Raises AddressBookError(address_not_taken) when nobody else holds it (save it as usual),
    ProofError(proof_unsupported) for an address no single key can sign for. Nothing stored:
    the text is rebuilt from the same values when the signature comes (core.cashout.address_proof).
    """
    now = now or utcnow()
    checked = validate_address(get_asset(asset).code, address, network)
    label = check_label(label)
    owner = payout_links.owner_of(conn, checked.asset, checked.text)
    if owner is None or owner == user_id:
        raise AddressBookError("address_not_taken", asset=checked.asset, address=checked.text)
    if not address_proof.supported(checked):
        raise ProofError("proof_unsupported", asset=checked.asset, kind=checked.kind)
    expires = address_proof.expiry(now)
    text = address_proof.challenge(user_id, checked, expires, secret_key)
    return Challenge(checked.asset, checked.text, label, text, expires)


def check_claim(
    user_id: int,
    asset: str,
    address: str,
    *,
    expires_at: datetime,
    signature: str,
    network: str,
    secret_key: str,
    now: datetime | None = None,
) -> Address:
    """Check a signature over the challenge given for these values (pure: no database).
    ProofError: proof_expired, proof_bad_signature, proof_mismatch, proof_unsupported."""
    now = now or utcnow()
    checked = validate_address(get_asset(asset).code, address, network)
    if now > expires_at:
        raise ProofError("proof_expired")
    address_proof.verify(
        checked, address_proof.challenge(user_id, checked, expires_at, secret_key), signature
    )
    return checked


def claim_address(
    conn: Connection,
    user_id: int,
    asset: str,
    address: str,
    label: str,
    *,
    expires_at: datetime,
    signature: str,
    network: str,
    code: str | None,
    secret_key: str,
    max_failures: int,
    now: datetime | None = None,
) -> Claimed:
    """Take ``address`` over with a signature of its challenge (``claim_challenge``): it leaves
    whoever linked it (their link and every label of theirs holding it), is linked to the
    user and saved in their book under ``label``. Needs the 2FA code when 2FA is on. Audited
    (``address_claimed``); the previous holder gets the notice ``address_claimed``.
    """
    now = now or utcnow()
    checked = check_claim(
        user_id,
        asset,
        address,
        expires_at=expires_at,
        signature=signature,
        network=network,
        secret_key=secret_key,
        now=now,
    )
    label = check_label(label)
    twofa.require(conn, user_id, code, secret_key, now, max_failures=max_failures)
    previous = payout_links.take_over(conn, user_id, checked.asset, checked.text, now, checked.network)
    if previous is not None and previous != user_id:
        removed = (
            conn.execute(
                delete(withdrawal_addresses)
                .where(
                    withdrawal_addresses.c.user_id == previous,
                    withdrawal_addresses.c.asset == checked.asset,
                    withdrawal_addresses.c.address == checked.text,
                )
                .returning(withdrawal_addresses.c.label)
            )
            .scalars()
            .all()
        )
        audit.record(
            conn,
            "address_claimed",
            actor=user_id,
            target=label,
            asset=checked.asset,
            address=checked.text,
            previous_owner=previous,
            their_labels=sorted(removed),
            now=now,
        )
        digest = hashlib.sha256(checked.text.encode()).hexdigest()[:16]
        notices.enqueue(
            conn,
            previous,
            "address_claimed",
            {"asset": checked.asset, "address": checked.text},
            key=f"address_claimed:{checked.asset}:{digest}:{previous}:{int(now.timestamp())}",
            now=now,
        )
    return Claimed(_save(conn, user_id, checked, label, now), previous)


def remove_address(conn: Connection, user_id: int, label: str) -> None:
    row = conn.execute(
        select(withdrawal_addresses).where(
            withdrawal_addresses.c.user_id == user_id, withdrawal_addresses.c.label == check_label(label)
        )
    ).first()
    if row is None:
        raise AddressBookError("no_such_label", label=label[:24])
    conn.execute(delete(withdrawal_addresses).where(withdrawal_addresses.c.id == row.id))
    _unlink_unless_kept(conn, user_id, row.asset, row.address)


def _unlink_unless_kept(conn: Connection, user_id: int, asset: str, address: str) -> None:
    """Stop faucet payouts to ``address`` once no label of the user's book holds it any more
    (two labels may name one address: removing one keeps the link for the other)."""
    kept = conn.execute(
        select(func.count()).where(
            withdrawal_addresses.c.user_id == user_id,
            withdrawal_addresses.c.asset == asset,
            withdrawal_addresses.c.address == address,
        )
    ).scalar_one()
    if not kept:
        payout_links.unlink(conn, user_id, asset, address)


def label_of(conn: Connection, user_id: int, asset: str, address: str) -> str:
    """The label under which the user keeps ``address`` of ``asset`` (for removing by address)."""
    for e in list_addresses(conn, user_id):
        if e.asset == get_asset(asset).code and e.address.lower() == address.strip().lower():
            return e.label
    raise AddressBookError("no_such_label", label=address[:24])


def remove_by_address(conn: Connection, user_id: int, asset: str, address: str) -> str:
    """Remove the entry that keeps ``address`` of ``asset`` (``/address remove BTC bc1...``), in
    one transaction; returns its label. Unknown to the book: AddressBookError, nothing changes."""
    label = label_of(conn, user_id, asset, address)
    remove_address(conn, user_id, label)
    return label


def resolve(conn: Connection, user_id: int, asset: str, text: str, network: str) -> Address:
    """A label from the user's book for ``asset``, or else a typed address, validated."""
    if isinstance(text, str) and _LABEL.fullmatch(text.strip()):
        row = conn.execute(
            select(withdrawal_addresses).where(
                withdrawal_addresses.c.user_id == user_id,
                withdrawal_addresses.c.label == text.strip().lower(),
            )
        ).first()
        if row is not None:
            if row.asset != asset:
                raise AddressBookError("label_other_asset", label=row.label, asset=row.asset)
            return validate_address(asset, row.address, network, row.chain)
    return validate_address(asset, text, network)
