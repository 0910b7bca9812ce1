"""Provably fair maths for the seeded games (dice, limbo, plinko), compatible with Stake's scheme.

Scheme (what a public Stake verifier recomputes):
- server seed: 64 lowercase hex chars; its commitment is SHA-256 of that hex TEXT, shown before play.
- HMAC-SHA256(key = server seed text, msg = f"{client_seed}:{nonce}:{round}"), round = 0, 1, ...
- each 4-byte group of a digest is one draw ``u`` (big-endian uint32); one digest gives 8 draws,
  then round increments. The float Stake shows is exactly ``u / 2**32`` (its byte sum is exact).

Every result is computed from ``u`` with integers: floor(float * N) == (u * N) >> 32 exactly, so
no float rounding can move a result. Limbo is the one game whose published formula is a chain of
double-precision operations; it is reproduced in integers that round exactly as IEEE-754 doubles
do (``_double``), so a JavaScript verifier agrees with every result. Floats appear only for display
(``to_float``).

Units: amounts are ints in minor units; dice rolls, limbo results/targets and plinko table entries
are hundredths (``7718`` = 77.18, ``200`` = 2.00x); chances and house edges are basis points
(hundredths of a percent: ``4950`` = 49.50 %, ``100`` = 1 %); payout multipliers
(``dice_multiplier``, ``Verification.multiplier_x10k``) are ten-thousandths (``MULT_ONE`` = 1x),
so a dice multiplier loses less than 0.0001x to rounding.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import count, islice

from core.errors import DomainError

U32 = 1 << 32
HOUSE_EDGE_BP = 100  # 1 %
MULT_ONE = 10_000  # 1.0000x in ten-thousandths
CLIENT_SEED_MAX = 64

DICE_OUTCOMES = 10_001  # rolls 0.00 .. 100.00 inclusive, as Stake
DICE_MIN_CHANCE_BP = 1  # 0.01 %
DICE_MAX_CHANCE_BP = 9_800  # 98 %
OVER, UNDER = "over", "under"

LIMBO_SCALE = 10**8  # the 1e8 of Stake's limbo formula
LIMBO_MIN_TARGET = 101  # 1.01x
LIMBO_MAX_TARGET = 100_000_000  # 1,000,000.00x
LIMBO_INFINITE = 10**18  # hundredths standing for JavaScript's Infinity (float 0: 1e8 / 0)

PLINKO_ROWS = range(8, 17)
PLINKO_RISKS = ("low", "medium", "high")

# Stake's plinko payouts in hundredths, left edge -> centre; the right half mirrors the left.
# Checked against several public Stake verifiers; every table's exact RTP is 98.906 % .. 99.160 %.
_PLINKO_HALVES: dict[int, dict[str, tuple[int, ...]]] = {
    8: {
        "low": (560, 210, 110, 100, 50),
        "medium": (1300, 300, 130, 70, 40),
        "high": (2900, 400, 150, 30, 20),
    },
    9: {
        "low": (560, 200, 160, 100, 70),
        "medium": (1800, 400, 170, 90, 50),
        "high": (4300, 700, 200, 60, 20),
    },
    10: {
        "low": (890, 300, 140, 110, 100, 50),
        "medium": (2200, 500, 200, 140, 60, 40),
        "high": (7600, 1000, 300, 90, 30, 20),
    },
    11: {
        "low": (840, 300, 190, 130, 100, 70),
        "medium": (2400, 600, 300, 180, 70, 50),
        "high": (12000, 1400, 520, 140, 40, 20),
    },
    12: {
        "low": (1000, 300, 160, 140, 110, 100, 50),
        "medium": (3300, 1100, 400, 200, 110, 60, 30),
        "high": (17000, 2400, 810, 200, 70, 20, 20),
    },
    13: {
        "low": (810, 400, 300, 190, 120, 90, 70),
        "medium": (4300, 1300, 600, 300, 130, 70, 40),
        "high": (26000, 3700, 1100, 400, 100, 20, 20),
    },
    14: {
        "low": (710, 400, 190, 140, 130, 110, 100, 50),
        "medium": (5800, 1500, 700, 400, 190, 100, 50, 20),
        "high": (42000, 5600, 1800, 500, 190, 30, 20, 20),
    },
    15: {
        "low": (1500, 800, 300, 200, 150, 110, 100, 70),
        "medium": (8800, 1800, 1100, 500, 300, 130, 50, 30),
        "high": (62000, 8300, 2700, 800, 300, 50, 20, 20),
    },
    16: {
        "low": (1600, 900, 200, 140, 140, 120, 110, 100, 50),
        "medium": (11000, 4100, 1000, 500, 300, 150, 100, 50, 30),
        "high": (100000, 13000, 2600, 900, 400, 200, 20, 20, 20),
    },
}


def _mirror(half: tuple[int, ...], rows: int) -> tuple[int, ...]:
    # rows + 1 buckets: an odd count has one centre bucket, which must not be repeated.
    return half + (half[-2::-1] if rows % 2 == 0 else half[::-1])


PLINKO_TABLES: dict[tuple[str, int], tuple[int, ...]] = {
    (risk, rows): _mirror(halves[risk], rows)
    for rows, halves in _PLINKO_HALVES.items()
    for risk in PLINKO_RISKS
}


class InvalidClientSeed(DomainError):
    """reason: "empty" | "too_long" | "control_chars" | "unprintable"."""


class InvalidBet(DomainError):
    """reason: "bad_game" | "bad_direction" | "target_out_of_range" | "chance_out_of_range"(min, max) |
    "bad_rows" | "bad_risk" | "bad_nonce" | "bad_edge"."""


# --- seeds -----------------------------------------------------------------------------------


def new_server_seed() -> str:
    """64 lowercase hex chars from the OS CSPRNG (256 bits)."""
    return secrets.token_hex(32)


def new_client_seed() -> str:
    """Default client seed: 32 lowercase hex chars; the user may replace it at any time."""
    return secrets.token_hex(16)


def commitment(server_seed: str) -> str:
    """SHA-256 of the seed's hex TEXT (ASCII), hex-encoded: what Stake-style verifiers hash."""
    return hashlib.sha256(server_seed.encode("ascii")).hexdigest()


def verify_commitment(server_seed: str, committed: str) -> bool:
    return hmac.compare_digest(commitment(server_seed), committed.lower())


def normalize_client_seed(text: str) -> str:
    """Return the client seed to store, or raise ``InvalidClientSeed``.

    Surrounding whitespace is stripped (Telegram clients add and drop it invisibly); the stored
    string is echoed back to the user and is exactly what the HMAC uses. Inside, any printable
    Unicode is allowed (UTF-8 in the HMAC, as Stake); ':' is harmless because nonce and round are
    digits, so "seed:nonce:round" splits unambiguously from the right.
    """
    seed = text.strip()
    if not seed:
        raise InvalidClientSeed("empty")
    if len(seed) > CLIENT_SEED_MAX:
        raise InvalidClientSeed("too_long", max_length=CLIENT_SEED_MAX)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in seed):
        raise InvalidClientSeed("control_chars")
    if not seed.isprintable():  # zero-width, bidi overrides, NBSP: a user cannot retype them
        raise InvalidClientSeed("unprintable")
    return seed


# --- random draws ----------------------------------------------------------------------------


def round_digest(server_seed: str, client_seed: str, nonce: int, round_: int) -> bytes:
    """HMAC-SHA256(server seed text, f"{client_seed}:{nonce}:{round_}"): 32 bytes, 8 draws."""
    msg = f"{client_seed}:{nonce}:{round_}".encode()
    return hmac.new(server_seed.encode("ascii"), msg, hashlib.sha256).digest()


def iter_uint32(server_seed: str, client_seed: str, nonce: int) -> Iterator[int]:
    """Endless draws u in [0, 2**32): draw k is round k // 8, bytes 4*(k % 8) .. +4, big-endian."""
    for round_ in count():
        digest = round_digest(server_seed, client_seed, nonce, round_)
        for i in range(0, 32, 4):
            yield int.from_bytes(digest[i : i + 4], "big")


def draw(server_seed: str, client_seed: str, nonce: int, n: int) -> list[int]:
    """The first ``n`` draws of this bet."""
    return list(islice(iter_uint32(server_seed, client_seed, nonce), n))


def to_float(u: int) -> float:  # float ok
    """Stake's float b0/256 + b1/256^2 + b2/256^3 + b3/256^4, which equals u / 2**32 exactly."""
    return u / U32  # float ok: display and verification only


def iter_floats(server_seed: str, client_seed: str, nonce: int) -> Iterator[float]:  # float ok
    return map(to_float, iter_uint32(server_seed, client_seed, nonce))


def float_text(u: int) -> str:
    """u / 2**32 as an exact decimal string (it terminates within 32 digits): "0.5", "0"."""
    digits = f"{u * 5**32:032d}".rstrip("0")  # u / 2^32 == u * 5^32 / 10^32
    return f"0.{digits}" if digits else "0"


def format_fixed(value: int, places: int = 2) -> str:
    """Non-negative fixed-point int as text: (7718) -> "77.18", (19800, 4) -> "1.9800"."""
    whole, frac = divmod(value, 10**places)
    return f"{whole}.{frac:0{places}d}"


# --- dice ------------------------------------------------------------------------------------


def dice_roll(u: int) -> int:
    """Roll in hundredths, 0..10000: floor(float * 10001) (Stake), uniform over 10001 outcomes."""
    return (u * DICE_OUTCOMES) >> 32


def dice_chance(
    target: int, direction: str, *, min_chance: int = DICE_MIN_CHANCE_BP, max_chance: int = DICE_MAX_CHANCE_BP
) -> int:
    """Advertised win chance in basis points: over t -> 10000 - t, under t -> t (t in hundredths).

    Stake's convention: "over 50.50" wins iff roll > 50.50 and "under 49.50" iff roll < 49.50,
    both shown as 49.50 %. Exactly ``chance`` of the 10001 rolls win, so the true probability is
    chance / 10001 and the realised edge is a little above the configured one (1.0099 % for 1 %):
    the extra outcome is the roll equal to the target, which always loses.
    """
    if direction not in (OVER, UNDER):
        raise InvalidBet("bad_direction")
    if not 0 <= target <= 10_000:
        raise InvalidBet("target_out_of_range")
    chance = 10_000 - target if direction == OVER else target
    if not min_chance <= chance <= max_chance:
        raise InvalidBet("chance_out_of_range", min=min_chance, max=max_chance)
    return chance


def dice_max_chance(edge_bp: int) -> int:
    """The highest chance (basis points) a dice bet may take at this edge: one whose win pays
    more than 1x. ``dice_multiplier(c, e) > MULT_ONE`` iff (10000 - e) * 10000 >= 10001 * c, i.e.
    c <= floor((10000 - e) * 10000 / 10001) = 9999 - e (for 0 <= e < 10000); at most 98 %."""
    return min(DICE_MAX_CHANCE_BP, 9_999 - edge_bp)


def dice_win(roll: int, target: int, direction: str) -> bool:
    """Over wins iff roll > target; under wins iff roll < target (both in hundredths)."""
    return roll > target if direction == OVER else roll < target


def dice_multiplier(chance: int, edge_bp: int = HOUSE_EDGE_BP) -> int:
    """(100 % - edge) / chance in ten-thousandths, rounded down: 4950 bp -> 20000 (2.0000x)."""
    return (10_000 - edge_bp) * MULT_ONE // chance


# --- limbo -----------------------------------------------------------------------------------


def _double(num: int, den: int) -> tuple[int, int]:
    """The IEEE-754 double nearest to num / den (ties to even), as an exact fraction (n, d).

    For num >= 0, den > 0 and quotients in the normal range (here 2^-40 .. 2^60): what one
    JavaScript (or Python float) division or multiplication of doubles rounds its exact result to.
    """
    if num == 0:
        return 0, 1
    e = num.bit_length() - den.bit_length()  # now 2^(e-1) < num/den < 2^(e+1)
    if (num < den << e) if e >= 0 else (num << -e < den):
        e -= 1  # now 2^e <= num/den < 2^(e+1): the double's exponent
    shift = 52 - e  # scale the quotient to a 53-bit mantissa
    n2, d2 = (num << shift, den) if shift >= 0 else (num, den << -shift)
    mantissa, rem = divmod(n2, d2)
    if 2 * rem > d2 or (2 * rem == d2 and mantissa & 1):
        mantissa += 1
    return (mantissa, 1 << shift) if shift >= 0 else (mantissa << -shift, 1)


def limbo_house(edge_bp: int = HOUSE_EDGE_BP) -> str:
    """The house factor of the limbo formula as shown: "0.99" at a 1 % edge."""
    return format_fixed(10_000 - edge_bp, 4).rstrip("0").rstrip(".")


def limbo_result(u: int, edge_bp: int = HOUSE_EDGE_BP) -> int:
    """Result in hundredths, >= 100: Stake's published formula, evaluated as its verifier does,
    in IEEE-754 doubles (each step rounded to the nearest double, as JavaScript does)::

        floatPoint = 1e8 / (float * 1e8) * houseEdge      // houseEdge = 0.99 at a 1 % edge
        result = Math.max(Math.floor(floatPoint * 100) / 100, 1)

    float = u / 2^32 exactly. Computed in integers, so every machine gets the same result.
    P(result >= T) is within 2^-31 of 0.99 / T; float 0 gives JavaScript's Infinity, kept as
    ``LIMBO_INFINITE`` (it wins at any target).
    """
    if u == 0:
        return LIMBO_INFINITE
    an, ad = _double(u * LIMBO_SCALE, U32)  # float * 1e8
    bn, bd = _double(LIMBO_SCALE * ad, an)  # 1e8 / (float * 1e8)
    hn, hd = _double(10_000 - edge_bp, 10_000)  # houseEdge: 0.99 is the double nearest 99/100
    cn, cd = _double(bn * hn, bd * hd)  # * houseEdge
    dn, dd = _double(cn * 100, cd)  # floatPoint * 100
    return max(100, dn // dd)


def limbo_text(result: int) -> str:
    """A limbo result as shown: "8.29", or "∞" for float 0."""
    return "∞" if result >= LIMBO_INFINITE else format_fixed(result)


def limbo_win(result: int, target: int) -> bool:
    return result >= target


# --- plinko ----------------------------------------------------------------------------------


def plinko_bucket(us: Sequence[int]) -> int:
    """Bucket 0..rows = number of rights; a row goes right iff floor(float * 2) == 1 (u >= 2^31)."""
    return sum(u >> 31 for u in us)


def plinko_multiplier(risk: str, rows: int, bucket: int) -> int:
    """Stake's payout for ``bucket`` in hundredths (bucket 0 is the left edge)."""
    return PLINKO_TABLES[risk, rows][bucket]


# --- money -----------------------------------------------------------------------------------


def payout(amount_minor: int, multiplier_hundredths: int) -> int:
    """amount * multiplier, rounded down (the house keeps the fraction of a minor unit)."""
    return amount_minor * multiplier_hundredths // 100


def payout_x10k(amount_minor: int, multiplier_x10k: int) -> int:
    """amount * multiplier given in ten-thousandths (e.g. ``Verification.multiplier_x10k``), down."""
    return amount_minor * multiplier_x10k // MULT_ONE


# --- one code path to settle and to verify a bet ---------------------------------------------

Step = tuple[str, int | str]


@dataclass(frozen=True)
class Verification:
    """What a handler shows for one seeded bet, and what the ledger settles it with.

    ``steps`` are (key, value) pairs with machine keys for the handler to translate; ``result`` is
    the roll or limbo result (hundredths) or the plinko bucket; ``won`` is None for plinko (it
    always pays something); ``multiplier_x10k`` multiplies the stake (0 on a loss).
    """

    game: str
    server_seed: str
    commitment: str
    client_seed: str
    nonce: int
    hmacs: tuple[str, ...]  # hex digest of each round used, round 0 first
    draws: tuple[int, ...]  # the u values used, in order
    floats: tuple[str, ...]  # the same as exact decimals, as a Stake verifier shows them
    steps: tuple[Step, ...]
    result: int
    won: bool | None
    multiplier_x10k: int


def _dice(p: Mapping[str, int | str], u: Iterator[int], edge: int) -> tuple[list[Step], int, bool, int]:
    target, direction = int(p["target"]), str(p["direction"])
    chance = dice_chance(target, direction)
    roll, mult = dice_roll(next(u)), dice_multiplier(chance, edge)
    won = dice_win(roll, target, direction)
    steps: list[Step] = [
        ("roll", roll),
        ("direction", direction),
        ("target", target),
        ("chance_bp", chance),
        ("edge_bp", edge),
        ("multiplier_x10k", mult),
    ]
    return steps, roll, won, mult if won else 0


def _limbo(p: Mapping[str, int | str], u: Iterator[int], edge: int) -> tuple[list[Step], int, bool, int]:
    target = int(p["target"])
    if not LIMBO_MIN_TARGET <= target <= LIMBO_MAX_TARGET:
        raise InvalidBet("target_out_of_range")
    result = limbo_result(next(u), edge)
    won = limbo_win(result, target)
    steps: list[Step] = [
        ("house", limbo_house(edge)),
        ("edge_bp", edge),
        ("result", result),
        ("target", target),
    ]
    return steps, result, won, target * 100 if won else 0


def _plinko(p: Mapping[str, int | str], u: Iterator[int], edge: int) -> tuple[list[Step], int, None, int]:
    rows, risk = int(p["rows"]), str(p["risk"])
    if rows not in PLINKO_ROWS:
        raise InvalidBet("bad_rows")
    if risk not in PLINKO_RISKS:
        raise InvalidBet("bad_risk")
    us = list(islice(u, rows))
    bucket = plinko_bucket(us)
    mult = plinko_multiplier(risk, rows, bucket)
    steps: list[Step] = [
        ("path", "".join("R" if x >> 31 else "L" for x in us)),
        ("bucket", bucket),
        ("rows", rows),
        ("risk", risk),
        ("multiplier_hundredths", mult),
    ]
    return steps, bucket, None, mult * 100


_GAMES = {"dice": _dice, "limbo": _limbo, "plinko": _plinko}


def verify_bet(
    game: str, params: Mapping[str, int | str], server_seed: str, client_seed: str, nonce: int
) -> Verification:
    """Recompute a bet from its record; ``place_bet`` should settle with this same function.

    params: dice {"target": hundredths, "direction": "over"|"under"}, limbo {"target": hundredths},
    plinko {"rows": 8..16, "risk": "low"|"medium"|"high"}; optional "edge_bp" (default 100) for
    dice and limbo - store it in the bet record so a later change of the edge cannot alter history.
    Raises ``InvalidBet`` for parameters a bet could not have had.
    """
    if game not in _GAMES:
        raise InvalidBet("bad_game")
    if nonce < 0:
        raise InvalidBet("bad_nonce")
    used: list[int] = []
    stream = iter_uint32(server_seed, client_seed, nonce)

    def remembered(draws: Iterator[int]) -> Iterator[int]:  # exactly the draws the game took
        for x in draws:
            used.append(x)
            yield x

    recorded = remembered(stream)
    edge = int(params.get("edge_bp", HOUSE_EDGE_BP))
    if not 0 <= edge < 10_000:
        raise InvalidBet("bad_edge")
    steps, result, won, mult = _GAMES[game](params, recorded, edge)
    rounds = (len(used) + 7) // 8
    return Verification(
        game=game,
        server_seed=server_seed,
        commitment=commitment(server_seed),
        client_seed=client_seed,
        nonce=nonce,
        hmacs=tuple(round_digest(server_seed, client_seed, nonce, r).hex() for r in range(rounds)),
        draws=tuple(used),
        floats=tuple(float_text(x) for x in used),
        steps=tuple(steps),
        result=result,
        won=won,
        multiplier_x10k=mult,
    )
