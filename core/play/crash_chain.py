"""Crash: bustabit's hash chain, its crash-point formula, and the live multiplier curve.

Chain (bustabit's current scheme): from a secret 32-byte seed g_0, g_{j+1} = SHA-256(g_j) over
the raw 32 bytes, for j < L. Games are played in reverse: game i (1-based) uses g_{L-i}, so
hash(game i) == SHA-256(hash(game i+1)) and the terminating hash g_L == SHA-256(hash(game 1)) is
published before any round. Revealing game i's hash after it ends reveals nothing about game i+1.

Crash point: X = first 52 bits of HMAC-SHA256(key = salt TEXT, msg = game hash bytes) / 2^52,
bust = max(1.00, floor(99 / (1 - X)) / 100), i.e. a 1 % edge. The salt is fixed after the
terminating hash is published (e.g. the hex text of a future Bitcoin block hash), so the house
could not have picked a chain it likes. Crash points are ints in hundredths (``183`` = 1.83x).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

HASH_BYTES = 32
R_BITS = 52


def new_chain_seed() -> bytes:
    """32 random bytes from the OS CSPRNG: the secret end of a chain (the last game's hash)."""
    return secrets.token_bytes(HASH_BYTES)


def _sha(h: bytes) -> bytes:
    return hashlib.sha256(h).digest()


class HashChain:
    """A chain of ``length`` games held as every ``every``-th hash, iterable in play order.

    Memory is about length/every + every hashes (every defaults to sqrt(length): ~2,000 hashes,
    ~150 KB, for 10^6 games instead of 10^6 hashes). The price is time: building costs L hashes,
    a full pass in play order L more (each segment is rebuilt once, then reversed), and
    ``game_hash(i)`` up to ``every`` hashes.
    """

    def __init__(self, seed: bytes, length: int, every: int | None = None) -> None:
        if len(seed) != HASH_BYTES:
            raise ValueError("seed must be 32 bytes: it is the last game's hash")
        if length < 1:
            raise ValueError("length must be >= 1")
        self.length = length
        self.every = every or max(1, math.isqrt(length))
        checkpoints, h = [], seed
        for j in range(length):
            if j % self.every == 0:
                checkpoints.append(h)  # g_j
            h = _sha(h)
        self._checkpoints = checkpoints
        self.terminating_hash = h  # g_L: publish this before game 1

    def __len__(self) -> int:
        return self.length

    def _segment(self, k: int) -> list[bytes]:
        # g_{k*every} .. g_{min((k+1)*every, L) - 1}, in generation order
        start = k * self.every
        h, out = self._checkpoints[k], []
        for _ in range(min(self.every, self.length - start)):
            out.append(h)
            h = _sha(h)
        return out

    def game_hash(self, game: int) -> bytes:
        """Hash of game ``game`` (1 = first played .. length = the seed itself)."""
        if not 1 <= game <= self.length:
            raise IndexError(game)
        j = self.length - game
        h = self._checkpoints[j // self.every]
        for _ in range(j % self.every):
            h = _sha(h)
        return h

    def __iter__(self) -> Iterator[bytes]:
        """Game hashes in play order: game 1, game 2, ..."""
        for k in reversed(range(len(self._checkpoints))):
            yield from reversed(self._segment(k))


def make_chain(seed_bytes: bytes, length: int, every: int | None = None) -> HashChain:
    """Build a chain of ``length`` games from a 32-byte secret; iterate it for play order."""
    return HashChain(seed_bytes, length, every)


def verify_link(game_hash: bytes, next_game_hash: bytes) -> bool:
    """True iff ``next_game_hash`` (game i+1, revealed later) hashes to ``game_hash`` (game i)."""
    return hmac.compare_digest(_sha(next_game_hash), game_hash)


def verifies_to_terminating(game_hash: bytes, terminating_hash: bytes, max_steps: int) -> int | None:
    """Game number of ``game_hash`` (1 = first game) if hashing it at most ``max_steps`` times
    reaches ``terminating_hash``, else None. Truthy exactly when the hash is on the chain."""
    h = game_hash
    for steps in range(1, max_steps + 1):
        h = _sha(h)
        if h == terminating_hash:
            return steps
    return None


def _floor_of_double_quotient(num: int, den: int) -> int:
    """floor(fl(num / den)) for positive ints, where fl rounds to the nearest IEEE-754 double
    (ties to even) - what JavaScript's ``Math.floor(a / b)`` gives when a / b is one division.

    Exact integers, so the result is the same on every machine; it differs from num // den only
    when the quotient lies within half an ulp below an integer.
    """
    e = num.bit_length() - den.bit_length()  # now 2^(e-1) < num/den < 2^(e+1)
    if (num < den << e) if e >= 0 else (num << -e < den):
        e -= 1  # now 2^e <= num/den < 2^(e+1): the double's exponent
    shift = 52 - e  # scale the quotient to a 53-bit mantissa
    n2, d2 = (num << shift, den) if shift >= 0 else (num, den << -shift)
    mantissa, rem = divmod(n2, d2)
    if 2 * rem > d2 or (2 * rem == d2 and mantissa & 1):
        mantissa += 1
    return mantissa >> shift if shift >= 0 else mantissa << -shift


def crash_r(game_hash: bytes, salt_text: str) -> tuple[str, int]:
    """(HMAC hex, r): the HMAC-SHA256(salt text, game hash bytes) and its first 52 bits."""
    digest = hmac.new(salt_text.encode(), game_hash, hashlib.sha256).digest()
    return digest.hex(), int.from_bytes(digest[:7], "big") >> (56 - R_BITS)


def crash_point(game_hash_bytes: bytes, salt_text: str) -> int:
    """Bust in hundredths, >= 100: max(100, floor(99 / (1 - r / 2^52))) as bustabit computes it.

    With d = 2^52 - r the quotient is 99 * 2^52 / d; bustabit's JS rounds it to a double before
    flooring, which for a few games in 10^13 differs from the exact floor, usually by +0.01
    (r = 174897072907592 busts at 1.03x, not 1.02x). We reproduce the double in integers, so
    bustabit-style verifiers agree with every result.
    P(bust >= m) is about 0.99 / m (m in x), as for limbo.
    """
    _, r = crash_r(game_hash_bytes, salt_text)
    return max(100, _floor_of_double_quotient(99 << R_BITS, (1 << R_BITS) - r))


@dataclass(frozen=True)
class CrashVerification:
    game_hash: str
    salt: str
    hmac: str
    r: int  # first 52 bits of the HMAC
    crash_point: int  # hundredths
    game_number: int | None  # None: not on the chain within max_steps


def verify_crash_game(
    game_hash_hex: str, salt_text: str, terminating_hex: str, max_steps: int
) -> CrashVerification:
    """Breakdown of one crash round for a handler to render (raises ValueError on bad hex)."""
    game_hash = bytes.fromhex(game_hash_hex)
    mac, r = crash_r(game_hash, salt_text)
    number = verifies_to_terminating(game_hash, bytes.fromhex(terminating_hex), max_steps)
    return CrashVerification(game_hash.hex(), salt_text, mac, r, crash_point(game_hash, salt_text), number)


# --- live round: multiplier against time (timing only, never money) ------------------------

GROWTH_PER_MS = 0.00006  # float ok: bustabit's curve, 2.00x at ~11.55 s, 10x at ~38.4 s


def multiplier_at(elapsed_ms: int) -> int:
    """Displayed multiplier in hundredths after ``elapsed_ms``: floor(100 * e^(0.00006 t)).

    Floats are fine here: the curve only says *when* the round reaches a value; the bust value
    itself is the integer ``crash_point``. Valid up to ~10 min, beyond any reachable bust.
    """
    if elapsed_ms <= 0:
        return 100
    return math.floor(100 * math.exp(GROWTH_PER_MS * elapsed_ms))  # float ok


def time_to_reach(multiplier_hundredths: int) -> int:
    """Least whole ms t with multiplier_at(t) >= m: when the round busts at m, or pays m."""
    if multiplier_hundredths <= 100:
        return 0
    t = math.ceil(math.log(multiplier_hundredths / 100) / GROWTH_PER_MS)  # float ok
    # exp and log round independently; settle the boundary against multiplier_at itself
    while t > 0 and multiplier_at(t - 1) >= multiplier_hundredths:
        t -= 1
    while multiplier_at(t) < multiplier_hundredths:
        t += 1
    return t


def cash_out_at(elapsed_ms: int, crash_hundredths: int) -> int | None:
    """Multiplier (hundredths) a cash-out pressed at server time ``elapsed_ms`` pays, or None.

    Same rule as an auto cash-out at m: it wins iff 1.01x <= m <= the bust. 1.00x never pays, so
    an instant bust (crash point 100) cannot be escaped by pressing at once.
    """
    m = multiplier_at(elapsed_ms)
    return m if 100 < m <= crash_hundredths else None
