"""Seeded games (dice, limbo, plinko): seeds per user, placing a bet, rotation, verification.

One transaction per bet: the nonce is fixed first (``UPDATE fair_seeds SET nonce = nonce + 1``,
which also serialises one user's bets on PostgreSQL), then the stake is checked against the
limits (``core.play.stakes.check_stake``, so it sees every earlier bet), the result is computed with
``core.play.fair.verify_bet`` (the same function that later verifies it), the stake moves
user -> house and the payout house -> user, and the bet row is written. The bet row's ``idem``
(unique) comes from the Telegram update, so a retried update returns the first bet. Ledger keys:
``bet:{user}:{seed}:{nonce}`` and ``win:{user}:{seed}:{nonce}`` (the nonce restarts at 0 with
each server seed, so the seed id is part of the key).

Server seeds are sealed at rest until revealed: ``game_seeds.server_seed`` and both seeds of
``fair_seeds`` hold a ``core.identity.totp.SecretBox`` token (AES-GCM under SECRET_KEY, aad
``fair_seed:{user}``), so a backup, a replica or the SQL log (parameters and rows alike) shows
only ciphertext and commitments; rotation writes the revealed seed in clear, since it is public
from then on. Rows written before sealing hold 64 hex characters: they are still read, and
``seal_seeds`` (run at every start) encrypts them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, or_, select, update

from core.identity import standing, totp
from core.loyalty import reward_paid
from core.money import HOUSE, Code, ledger, user_account
from core.platform import utcnow
from core.play import fair
from core.play.stakes import (
    GameRefused,
    Rules,
    StakeRange,
    bet_reads,
    check_stake,
    coins_held,
    get_limits,
    stake_range,
)
from core.play.tables import bets, fair_seeds, game_seeds


@dataclass(frozen=True, slots=True)
class SeedState:
    """What /fair shows. The active server seed itself is never part of it."""

    seed_id: int
    commitment: str
    next_commitment: str
    client_seed: str
    nonce: int


@dataclass(frozen=True, slots=True)
class Rotation:
    revealed_seed: str  # the old server seed, now public
    revealed_commitment: str
    old_client_seed: str
    bets_made: int  # the old seed's last nonce + 1
    state: SeedState
    client_seed_chosen: bool  # False: the new client seed was drawn at random (invite the user's own)


@dataclass(frozen=True, slots=True)
class Bet:
    id: int
    user_id: int
    game: str
    asset: str
    amount: int
    payout: int
    seed_id: int
    nonce: int
    client_seed: str
    params: dict[str, Any]
    result: int
    multiplier_x10k: int
    created_at: datetime
    replayed: bool = False

    @property
    def net(self) -> int:
        """What the bet made the player, in minor units: payout - amount (negative: lost)."""
        return self.payout - self.amount


def _bet(row: Row[Any], replayed: bool = False) -> Bet:
    m = row._mapping
    return Bet(
        id=m["id"],
        user_id=m["user_id"],
        game=m["game"],
        asset=m["asset"],
        amount=m["amount"],
        payout=m["payout"],
        seed_id=m["seed_id"],
        nonce=m["nonce"],
        client_seed=m["client_seed"],
        params=json.loads(m["params"]),
        result=m["result"],
        multiplier_x10k=m["multiplier_x10k"],
        created_at=m["created_at"],
        replayed=replayed,
    )


# --- seeds ---------------------------------------------------------------------------------

_PLAIN = re.compile(r"[0-9a-f]{64}", re.ASCII)  # a seed written in clear, before seeds were sealed


@lru_cache(maxsize=4)
def _box(secret_key: str) -> totp.SecretBox:
    return totp.SecretBox(secret_key)  # the HKDF once per key, not once per bet


def _seal(secret_key: str, user_id: int, seed: str) -> str:
    return _box(secret_key).encrypt(seed, aad=f"fair_seed:{user_id}")


def _open(secret_key: str, user_id: int, stored: str) -> str:
    """The seed from a sealed token (or from a row written in clear before sealing). A token that
    does not open (another SECRET_KEY, another user's row) refuses the bet: ``seeds_unreadable``."""
    if _PLAIN.fullmatch(stored):
        return stored
    try:
        return _box(secret_key).decrypt(stored, aad=f"fair_seed:{user_id}")
    except totp.UndecryptableSecret:
        raise GameRefused("seeds_unreadable") from None


_STATE = select(fair_seeds).where(fair_seeds.c.user_id == bindparam("u"))
_TAKE_NONCE = (
    update(fair_seeds)
    .where(fair_seeds.c.user_id == bindparam("u"))
    .values(nonce=fair_seeds.c.nonce + 1)
    .returning(fair_seeds.c.seed_id, fair_seeds.c.server_seed, fair_seeds.c.client_seed, fair_seeds.c.nonce)
)


def _new_seed_row(
    conn: Connection, user_id: int, sealed: str, commitment: str, client: str, now: datetime
) -> int:
    seed_id: int = conn.execute(
        game_seeds.insert()
        .values(
            user_id=user_id, server_seed=sealed, commitment=commitment, client_seed=client, created_at=now
        )
        .returning(game_seeds.c.id)
    ).scalar_one()
    return seed_id


def _ensure(conn: Connection, user_id: int, now: datetime, secret_key: str) -> Row[Any]:
    row = conn.execute(_STATE, {"u": user_id}).first()
    if row is not None:
        return row
    server, client = fair.new_server_seed(), fair.new_client_seed()
    sealed = _seal(secret_key, user_id, server)
    seed_id = _new_seed_row(conn, user_id, sealed, fair.commitment(server), client, now)
    # A concurrent first bet inserts the same key: PostgreSQL raises 23505 and db.write retries.
    conn.execute(
        fair_seeds.insert().values(
            user_id=user_id,
            seed_id=seed_id,
            server_seed=sealed,
            client_seed=client,
            nonce=0,
            next_server_seed=_seal(secret_key, user_id, fair.new_server_seed()),
        )
    )
    return conn.execute(_STATE, {"u": user_id}).one()


def _state(row: Row[Any], secret_key: str) -> SeedState:
    return SeedState(
        seed_id=row.seed_id,
        commitment=fair.commitment(_open(secret_key, row.user_id, row.server_seed)),
        next_commitment=fair.commitment(_open(secret_key, row.user_id, row.next_server_seed)),
        client_seed=row.client_seed,
        nonce=row.nonce,
    )


def seed_state(conn: Connection, user_id: int, now: datetime | None = None, *, secret_key: str) -> SeedState:
    """The user's commitments, client seed and next nonce (creates the seeds on first use).
    ``secret_key`` (SECRET_KEY) seals new seeds and opens stored ones."""
    return _state(_ensure(conn, user_id, now or utcnow(), secret_key), secret_key)


def rotate_seed(
    conn: Connection,
    user_id: int,
    client_seed: str | None = None,
    now: datetime | None = None,
    *,
    secret_key: str,
) -> Rotation:
    """Reveal the active server seed and switch to the committed next one, nonce 0.

    ``client_seed`` (validated by ``fair.normalize_client_seed``) replaces the client seed; None
    draws a new random one. The old client seed is never kept: the next server seed was made
    while it was known, so keeping it would pair a server seed with a client seed the server
    knew when it chose that seed. Every new pair takes a client seed fixed after the commitment
    shown in /fair. Crash bets never use these seeds (crash has its own chain), so an open crash
    bet does not stop a rotation. The revealed seed is stored in clear from now on (it is public).
    """
    now = now or utcnow()
    try:
        new_client = fair.normalize_client_seed(client_seed) if client_seed is not None else None
    except fair.InvalidClientSeed as e:  # "empty"/"too_long" also name amount errors: keep them apart
        raise fair.InvalidClientSeed("seed_" + e.reason, **e.params) from None
    old = _ensure(conn, user_id, now, secret_key)
    revealed = _open(secret_key, user_id, old.server_seed)
    promised = _open(secret_key, user_id, old.next_server_seed)
    sealed = _seal(secret_key, user_id, promised)
    client = new_client if new_client is not None else fair.new_client_seed()
    new_id = _new_seed_row(conn, user_id, sealed, fair.commitment(promised), client, now)
    done = conn.execute(
        update(fair_seeds)
        .where(fair_seeds.c.user_id == user_id, fair_seeds.c.seed_id == old.seed_id)
        .values(
            seed_id=new_id,
            server_seed=sealed,
            client_seed=client,
            nonce=0,
            next_server_seed=_seal(secret_key, user_id, fair.new_server_seed()),
        )
    ).rowcount
    if done != 1:  # a concurrent rotation won (SQLite cannot get here: one writer)
        raise GameRefused("seeds_changed")
    conn.execute(
        update(game_seeds).where(game_seeds.c.id == old.seed_id).values(revealed_at=now, server_seed=revealed)
    )
    state = _state(conn.execute(_STATE, {"u": user_id}).one(), secret_key)
    return Rotation(
        revealed,
        fair.commitment(revealed),
        old.client_seed,
        old.nonce,
        state,
        client_seed_chosen=new_client is not None,
    )


def seal_seeds(conn: Connection, *, secret_key: str) -> int:
    """Encrypt every unrevealed seed still stored in clear (rows from before sealing); returns
    how many. Idempotent; bot.py runs it at every start, after the migrations."""
    sealed = 0
    plain_pair = or_(
        func.length(fair_seeds.c.server_seed) == 64, func.length(fair_seeds.c.next_server_seed) == 64
    )
    for row in conn.execute(select(fair_seeds).where(plain_pair)).all():
        values = {
            col: _seal(secret_key, row.user_id, getattr(row, col))
            for col in ("server_seed", "next_server_seed")
            if _PLAIN.fullmatch(getattr(row, col))
        }
        conn.execute(update(fair_seeds).where(fair_seeds.c.user_id == row.user_id).values(**values))
        sealed += len(values)
    plain_seeds = select(game_seeds.c.id, game_seeds.c.user_id, game_seeds.c.server_seed).where(
        game_seeds.c.revealed_at.is_(None), func.length(game_seeds.c.server_seed) == 64
    )
    for row in conn.execute(plain_seeds).all():
        if _PLAIN.fullmatch(row.server_seed):
            token = _seal(secret_key, row.user_id, row.server_seed)
            conn.execute(update(game_seeds).where(game_seeds.c.id == row.id).values(server_seed=token))
            sealed += 1
    return sealed


# --- placing a bet -------------------------------------------------------------------------


def bet_params(game: str, raw: dict[str, Any], rules: Rules) -> tuple[dict[str, Any], int]:
    """Validated params to store (with the edge in force) and the most the bet can multiply by
    (ten-thousandths). Raises ``fair.InvalidBet`` for anything a bet cannot have."""
    if game == "dice":
        target, direction = int(raw["target"]), str(raw["direction"])
        # A win must pay more than the stake: with a high edge, 98 % would pay 0.82x on a "win".
        chance = fair.dice_chance(target, direction, max_chance=fair.dice_max_chance(rules.edge_bp))
        return {"target": target, "direction": direction, "edge_bp": rules.edge_bp}, fair.dice_multiplier(
            chance, rules.edge_bp
        )
    if game == "limbo":
        target = int(raw["target"])
        highest = min(rules.limbo_max, fair.LIMBO_MAX_TARGET)
        if not fair.LIMBO_MIN_TARGET <= target <= highest:
            raise fair.InvalidBet("target_out_of_range", min=fair.LIMBO_MIN_TARGET, max=highest)
        return {"target": target, "edge_bp": rules.edge_bp}, target * 100
    if game == "plinko":
        rows, risk = int(raw["rows"]), str(raw["risk"])
        if rows not in fair.PLINKO_ROWS:
            raise fair.InvalidBet("bad_rows")
        if risk not in fair.PLINKO_RISKS:
            raise fair.InvalidBet("bad_risk")
        return {"rows": rows, "risk": risk}, max(fair.PLINKO_TABLES[risk, rows]) * 100
    raise fair.InvalidBet("bad_game")


_BY_IDEM = select(bets).where(bets.c.idem == bindparam("k"))
_INSERT_BET = bets.insert().returning(bets.c.id)


def place_bet(
    conn: Connection,
    *,
    user_id: int,
    game: str,
    asset: str,
    amount: int,
    params: dict[str, Any],
    rules: Rules,
    idem: str,
    secret_key: str,
    now: datetime | None = None,
) -> Bet:
    """Place and settle one seeded bet in this transaction; see the module docstring.

    ``amount`` in minor units; ``idem`` identifies the Telegram update (a retry returns the
    first bet with ``replayed=True`` and moves nothing); ``secret_key`` opens the sealed seed.
    """
    standing.require(conn, user_id, standing.PLAY)
    reads = bet_reads(conn, user_id, asset, idem, rules)  # one round trip for every read below
    if reads.prior_id is not None:
        return _bet(conn.execute(_BY_IDEM, {"k": idem}).one(), replayed=True)
    now = now or utcnow()
    stored, max_mult = bet_params(game, params, rules)
    # The nonce first: its row lock queues this user's other bets (other instances, on
    # PostgreSQL) until we commit, so the loss limit below counts every bet before this one.
    # A refusal rolls the nonce back with everything else.
    taken = conn.execute(_TAKE_NONCE, {"u": user_id}).first()
    if taken is None:  # first bet ever: make the seeds, then take nonce 0
        _ensure(conn, user_id, now, secret_key)
        taken = conn.execute(_TAKE_NONCE, {"u": user_id}).one()
    max_payout = fair.payout_x10k(amount, max_mult)
    check_stake(
        conn, user_id, asset, amount, max_payout, rules, now, cap=reads.cap, game=game, limits=reads.limits
    )
    seed_id, sealed, client_seed, next_nonce = taken
    server_seed = _open(secret_key, user_id, sealed)
    nonce = next_nonce - 1
    v = fair.verify_bet(game, stored, server_seed, client_seed, nonce)
    win = fair.payout_x10k(amount, v.multiplier_x10k)
    row = dict(
        user_id=user_id,
        game=game,
        asset=asset,
        amount=amount,
        payout=win,
        seed_id=seed_id,
        nonce=nonce,
        client_seed=client_seed,
        params=json.dumps(stored, sort_keys=True),
        result=v.result,
        multiplier_x10k=v.multiplier_x10k,
        idem=idem,
        created_at=now,
    )
    bet_id = conn.execute(_INSERT_BET, row).scalar_one()
    # The house row is the hot lock on PostgreSQL: touch it last, just before the commit.
    player, ref = user_account(user_id), f"{user_id}:{seed_id}:{nonce}"
    meta = {"game": game}
    ledger.transfer(
        conn,
        debit=player,
        credit=HOUSE,
        asset=asset,
        amount=amount,
        code=Code.BET,
        key=f"bet:{ref}",
        meta=meta,
        now=now,
    )
    if win > 0:
        ledger.transfer(
            conn,
            debit=HOUSE,
            credit=player,
            asset=asset,
            amount=win,
            code=Code.WIN,
            key=f"win:{ref}",
            meta=meta,
            now=now,
        )
    if rules.loyalty is not None:  # reward points per coin wagered
        reward_paid(conn, rules.loyalty, user_id, "wager", asset, amount, f"bet:{ref}", now)
    return _bet_from(bet_id, row, stored)


@dataclass(frozen=True, slots=True)
class Panel:
    """What a bet panel shows besides the bet: the stakes it may take and the coins held."""

    stakes: StakeRange
    coins: list[str]


def panel(
    conn: Connection, user_id: int, game: str, asset: str, params: dict[str, Any], rules: Rules
) -> Panel:
    """The stake range of this bet shape (``fair.InvalidBet`` for a shape no bet can have) and
    the coins the player can bet with, in one read."""
    _stored, max_mult = bet_params(game, params, rules)
    return Panel(stake_range(conn, user_id, asset, max_mult, rules), coins_held(conn, user_id))


@dataclass(frozen=True, slots=True)
class Home:
    paused_until: datetime | None  # games paused (self-exclusion) until then
    coins: list[str]


def home(conn: Connection, user_id: int, now: datetime | None = None) -> Home:
    """What the games menu needs: a pause in force, and the coins the player holds."""
    return Home(get_limits(conn, user_id, now).excluded_until, coins_held(conn, user_id))


def _bet_from(bet_id: int, row: dict[str, Any], stored: dict[str, Any]) -> Bet:
    fields = {k: v for k, v in row.items() if k != "idem"}
    return Bet(id=bet_id, **{**fields, "params": stored})


def parse_hundredths(text: str) -> int:
    """'50.5' -> 5050, '2' -> 200, '2,5x' -> 250 (targets and multipliers as players type them)."""
    t = (text or "").strip().lower().removesuffix("x").replace(",", ".")
    whole, _, frac = t.partition(".")
    if not (whole.isascii() and whole.isdigit()) or len(whole) > 9 or len(frac) > 2:
        raise fair.InvalidBet("bad_number")
    if frac and not (frac.isascii() and frac.isdigit()):
        raise fair.InvalidBet("bad_number")
    return int(whole) * 100 + int(frac.ljust(2, "0") or "0")


# --- reading and verifying -----------------------------------------------------------------


def recent_bets(conn: Connection, user_id: int, limit: int = 10) -> list[Bet]:
    q = select(bets).where(bets.c.user_id == user_id).order_by(bets.c.id.desc()).limit(limit)
    return [_bet(r) for r in conn.execute(q)]


def last_bet(conn: Connection, user_id: int) -> Bet | None:
    found = recent_bets(conn, user_id, 1)
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class BetCheck:
    bet: Bet
    commitment: str
    verification: fair.Verification | None  # None until the seed is revealed by a rotation


def check_bet(conn: Connection, user_id: int, bet_id: int) -> BetCheck:
    """A user's own bet with its proof; the server seed only once it has been revealed."""
    row = conn.execute(select(bets).where(bets.c.id == bet_id, bets.c.user_id == user_id)).first()
    if row is None:
        raise GameRefused("not_found")
    bet = _bet(row)
    seed = conn.execute(select(game_seeds).where(game_seeds.c.id == bet.seed_id)).one()
    if seed.revealed_at is None:
        return BetCheck(bet, seed.commitment, None)
    v = fair.verify_bet(bet.game, bet.params, seed.server_seed, bet.client_seed, bet.nonce)
    return BetCheck(bet, seed.commitment, v)
