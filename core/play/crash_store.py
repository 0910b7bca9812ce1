"""Crash chains as stored: creating one, its commitment to a Bitcoin block, its salt, and the
runner's cache of it (the maths of a chain live in core.play.crash_chain; rounds in core.play.crash).

An admin creates a chain (``build_chain`` hashes it outside any transaction, then
``create_chain`` stores it: its terminating hash is the public commitment, published together
with the height of a Bitcoin block not mined yet, ``salt_blocks`` above the current tip; the
32-byte seed is stored Fernet-encrypted with SECRET_KEY and never shown), then sets the salt
(``set_salt``): exactly that block's hash, accepted only once the block can exist. Neither the
operator nor anyone else could know the salt when the chain was fixed, so no chain could be
picked for it. Only a salted chain plays rounds.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Connection, Row, select, update

from core.platform import audit, utcnow
from core.play import crash_chain
from core.play.stakes import GameRefused
from core.play.tables import crash_chains

_BLOCK_HASH = re.compile(r"[0-9a-f]{64}", re.ASCII)
# The fastest Bitcoin could plausibly mine: a block a minute (six blocks in six minutes happen
# about once in 25,000 tries at the usual ten minutes a block).
FASTEST_BLOCK = timedelta(minutes=1)


class CrashRefused(GameRefused):
    """reason: no_round | betting_closed | crashed | already_cashed | not_found | no_chain |
    salt_set | bad_salt(height) | salt_early(height, after) | no_block | bad_auto | chain_exists |
    round_full(limit, asset)."""


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"dustpan-crash-chain:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


@dataclass(frozen=True, slots=True)
class Chain:
    id: int
    commitment: str
    length: int
    next_game: int
    salt: str | None
    salt_height: int | None  # the Bitcoin block whose hash is the salt (None: made before commitments)
    salt_after: datetime | None  # the earliest that block could exist
    committed_at: datetime


def _chain(row: Row[Any]) -> Chain:
    return Chain(
        row.id,
        row.commitment,
        row.length,
        row.next_game,
        row.salt,
        row.salt_height,
        row.salt_after,
        row.created_at,
    )


@dataclass(frozen=True, slots=True)
class NewChain:
    """A chain built by ``build_chain``, outside any transaction, for ``create_chain`` to store."""

    seed: bytes
    hashes: crash_chain.HashChain


def build_chain(length: int) -> NewChain:
    """A new secret seed and its chain of ``length`` games: ``length`` SHA-256 (about 4 s for
    10^7), so run it off the event loop (``asyncio.to_thread``), never inside a transaction."""
    seed = crash_chain.new_chain_seed()
    return NewChain(seed, crash_chain.make_chain(seed, length))


def check_new_chain(conn: Connection, now: datetime | None = None) -> None:
    """Refuse a new chain while the newest one still has games to play (ask before building).

    An unsalted chain is replaced only while its salt block cannot exist yet (or when it names
    no block: made before block commitments). Later, its salt may be known, and replacing it
    would let the operator drop a chain that would bust early with that salt.
    """
    current = latest_chain(conn)
    if current is None:
        return
    if current.salt is None:
        if (
            current.salt_height is None
            or current.salt_after is None
            or (now or utcnow()) < current.salt_after
        ):
            return
        raise CrashRefused("chain_exists", commitment=current.commitment)
    if current.next_game <= current.length:
        raise CrashRefused("chain_exists", commitment=current.commitment)


def create_chain(
    conn: Connection,
    new: NewChain,
    *,
    secret_key: str,
    admin_id: int,
    tip_height: int,
    salt_blocks: int,
    now: datetime | None = None,
) -> Chain:
    """Store a chain from ``build_chain`` and commit to the Bitcoin block ``tip_height +
    salt_blocks`` (``tip_height``: the newest block now) as its salt; refused while a chain
    still has games to play (``check_new_chain``). Its salt is taken from ``salt_after`` on:
    ``salt_blocks`` blocks cannot be mined faster than a block a minute."""
    if not 0 <= tip_height < 10**8 or salt_blocks < 1:
        raise CrashRefused("bad_height")
    now = now or utcnow()
    check_new_chain(conn, now)
    row = conn.execute(
        crash_chains.insert()
        .values(
            commitment=new.hashes.terminating_hash.hex(),
            length=new.hashes.length,
            next_game=1,
            seed_enc=_fernet(secret_key).encrypt(new.seed).decode(),
            salt_height=tip_height + salt_blocks,
            salt_after=now + salt_blocks * FASTEST_BLOCK,
            created_at=now,
        )
        .returning(*crash_chains.c)
    ).one()
    conn.execute(update(crash_chains).where(crash_chains.c.id != row.id).values(active=False))
    audit.record(
        conn,
        "crash_chain",
        actor=admin_id,
        target=str(row.id),
        commitment=row.commitment,
        salt_height=row.salt_height,
        now=now,
    )
    return _chain(row)


def latest_chain(conn: Connection) -> Chain | None:
    row = conn.execute(select(crash_chains).order_by(crash_chains.c.id.desc()).limit(1)).first()
    return _chain(row) if row else None


def is_block_hash(text: str) -> bool:
    """64 hexadecimal characters (either case), as a Bitcoin block hash is written."""
    return bool(_BLOCK_HASH.fullmatch((text or "").strip().lower()))


def set_salt(
    conn: Connection,
    salt: str,
    *,
    admin_id: int,
    now: datetime | None = None,
    node_confirmed: bool = False,
) -> Chain:
    """Fix the salt of the newest chain, once: the hash of the Bitcoin block it committed to
    (64 hex characters), given no earlier than that block could exist (``salt_after``), unless
    ``node_confirmed`` (a Bitcoin node returned this hash for that height). Rounds start only
    after this."""
    salt = (salt or "").strip().lower()
    chain = latest_chain(conn)
    if chain is None:
        raise CrashRefused("no_chain")
    if chain.salt is not None:
        raise CrashRefused("salt_set", salt=chain.salt)
    if chain.salt_height is None:
        raise CrashRefused("no_block")
    if not _BLOCK_HASH.fullmatch(salt):
        raise CrashRefused("bad_salt", height=chain.salt_height)
    now = now or utcnow()
    assert chain.salt_after is not None  # set with salt_height
    if not node_confirmed and now < chain.salt_after:
        raise CrashRefused("salt_early", height=chain.salt_height, after=chain.salt_after)
    conn.execute(
        update(crash_chains)
        .where(crash_chains.c.id == chain.id)
        .values(salt=salt, salt_set_at=now, active=True)
    )
    audit.record(
        conn,
        "crash_salt",
        actor=admin_id,
        target=str(chain.id),
        salt=salt,
        salt_height=chain.salt_height,
        now=now,
    )
    return replace(chain, salt=salt)


class ChainNotLoaded(Exception):  # noqa: N818 - a signal to the runner, not a failure
    """``open_round`` needs a chain the cache has not built: ``ChainCache.load`` it (off the
    event loop, outside any transaction) and call again."""

    def __init__(self, chain_id: int) -> None:
        super().__init__(chain_id)
        self.chain_id = chain_id


@dataclass(frozen=True, slots=True)
class SealedChain:
    """A stored chain as ``ChainCache.load`` needs it (the seed still encrypted)."""

    id: int
    seed_enc: str
    length: int
    commitment: str


def sealed_chain(conn: Connection, chain_id: int) -> SealedChain:
    row = conn.execute(select(crash_chains).where(crash_chains.c.id == chain_id)).one()
    return SealedChain(row.id, row.seed_enc, row.length, row.commitment)


class ChainCache:
    """The runner's in-memory chain (decrypted once, checkpoints only): game hash lookups.

    Building a chain costs ``length`` SHA-256, seconds for a long one, so it happens only in
    ``load``, which the runner calls in a worker thread outside any transaction; a lookup in a
    chain not loaded raises ``ChainNotLoaded`` instead of hashing where it would stall writes.
    """

    def __init__(self, secret_key: str) -> None:
        self._fernet = _fernet(secret_key)
        self._chains: dict[int, crash_chain.HashChain] = {}

    def loaded(self, chain_id: int) -> bool:
        return chain_id in self._chains

    def load(self, sealed: SealedChain) -> None:
        seed = self._fernet.decrypt(sealed.seed_enc.encode())
        chain = crash_chain.make_chain(seed, sealed.length)
        if chain.terminating_hash.hex() != sealed.commitment:
            raise RuntimeError("crash chain does not match its commitment (wrong SECRET_KEY?)")
        self._chains = {sealed.id: chain}  # one chain at a time: the one being played

    def game_hash(self, chain_id: int, game: int) -> bytes:
        """Hash of ``game`` (at most sqrt(length) SHA-256 from a checkpoint)."""
        chain = self._chains.get(chain_id)
        if chain is None:
            raise ChainNotLoaded(chain_id)
        return chain.game_hash(game)
