"""Two-factor authentication, the pure half: TOTP codes, backup codes, secrets at rest.

- TOTP is RFC 6238 with the authenticator-app defaults (SHA-1, 6 digits, 30 s steps);
  codes come from ``pyotp``. ``match_step`` returns the time step a code matched so the
  caller stores it as ``last_used_step``: a code is never accepted twice, nor an older one.
- ``SecretBox`` encrypts TOTP secrets (and later other small secrets) at rest with
  AES-256-GCM under a key derived from the app's SECRET_KEY by HKDF-SHA256.
- Backup codes are stored as HMAC-SHA256 under a pepper derived from SECRET_KEY.
  Not scrypt: a code carries ~50 random bits, so slow hashing buys nothing while the pepper
  stays secret, and once SECRET_KEY leaks the TOTP secrets fall with it anyway; a
  deterministic hash also lets the database find a code by an indexed lookup, and keeps a
  100 ms CPU burn off the event loop on every attempt.

Nothing here logs, and no object's repr shows a secret, a key or a code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import re
import secrets
from collections.abc import Iterable

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import DomainError

STEP_SECONDS = 30
DIGITS = 6
ISSUER = "Dustpan"
BACKUP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/i/l
BACKUP_LENGTH = 10

_BOX_INFO = b"dustpan/secretbox/v1"
_PEPPER_INFO = b"dustpan/backup-codes/v1"
_BOX_VERSION = 1
_NONCE = 12
_TAG = 16
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class UndecryptableSecret(DomainError):
    """A stored secret that fails authentication: tampered, truncated, or another SECRET_KEY."""

    reason = "undecryptable_secret"


def _derive(secret_key: str, info: bytes) -> bytes:
    if not isinstance(secret_key, str) or not secret_key:
        raise ValueError("SECRET_KEY must be a non-empty string")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret_key.encode())


# --- TOTP -----------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh TOTP secret: 32 base32 characters, 160 random bits (RFC 4226's recommendation)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account_name: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans; it contains the secret."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def qr_png(uri: str, scale: int = 6) -> bytes:
    """A PNG QR code of ``uri`` (a full-size QR, medium error correction, quiet zone of 4)."""
    buffer = io.BytesIO()
    segno.make_qr(uri, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def normalise_code(code: str) -> str | None:
    """The 6 ASCII digits of a typed TOTP code with its spaces removed, or None.

    Other scripts' digits ("١٢٣٤٥٦", full-width) are refused rather than translated.
    """
    if not isinstance(code, str) or len(code) > 32:
        return None
    digits = "".join(code.split())
    if len(digits) != DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    return digits


def match_step(
    secret: str,
    code: str,
    now: int | float,  # float ok: a Unix timestamp in seconds; only its whole seconds count
    last_used_step: int | None,
    drift: int = 1,
) -> int | None:
    """The time step (``int(now) // 30``) within ±``drift`` that ``code`` is valid for, or None.

    Steps at or before ``last_used_step`` are never accepted (replay, and codes older than
    one already used); store the returned step as the new ``last_used_step``. Every
    candidate is computed and compared in constant time, whichever matches.
    """
    digits = normalise_code(code)
    if digits is None:
        return None
    hotp = pyotp.HOTP(secret, digits=DIGITS)  # RFC 6238: TOTP is HOTP over the time step
    current = int(now) // STEP_SECONDS
    matched = None
    for step in range(current - drift, current + drift + 1):
        if step < 0 or (last_used_step is not None and step <= last_used_step):
            continue
        if hmac.compare_digest(hotp.at(step), digits):
            matched = step  # the latest wins, which also burns the ones before it
    return matched


def matches_step(secret: str, code: str, step: int) -> bool:
    """Whether ``code`` is the code of exactly this time step (constant-time comparison)."""
    digits = normalise_code(code)
    return digits is not None and hmac.compare_digest(pyotp.HOTP(secret, digits=DIGITS).at(step), digits)


# --- Secrets at rest -------------------------------------------------------------------------


class SecretBox:
    """AES-256-GCM under HKDF-SHA256(SECRET_KEY, info="dustpan/secretbox/v1").

    A token is base64url (no padding) of: version byte (1) | random 96-bit nonce |
    ciphertext | 128-bit tag. The version byte and the optional ``aad`` (say
    ``f"totp:{user_id}"``) are authenticated, so a token copied to another row whose
    ``aad`` differs does not decrypt.
    """

    __slots__ = ("_aead",)

    def __init__(self, secret_key: str) -> None:
        self._aead = AESGCM(_derive(secret_key, _BOX_INFO))

    def __repr__(self) -> str:
        return "SecretBox(<redacted>)"

    def __reduce__(self) -> object:
        raise TypeError("SecretBox is not picklable")

    def encrypt(self, text: str, aad: str = "") -> str:
        header = bytes([_BOX_VERSION])
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, text.encode(), header + aad.encode())
        return base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode("ascii")

    def decrypt(self, token: str, aad: str = "") -> str:
        """The text sealed by ``encrypt``; raises UndecryptableSecret on any mismatch."""
        if not isinstance(token, str) or not _B64URL.fullmatch(token):
            raise UndecryptableSecret()
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise UndecryptableSecret() from None
        if len(raw) < 1 + _NONCE + _TAG or raw[0] != _BOX_VERSION:
            raise UndecryptableSecret()
        nonce, sealed = raw[1 : 1 + _NONCE], raw[1 + _NONCE :]
        try:
            plain = self._aead.decrypt(nonce, sealed, raw[:1] + aad.encode())
        except InvalidTag:
            raise UndecryptableSecret() from None
        return plain.decode()


# --- Backup codes ----------------------------------------------------------------------------


def new_backup_codes(n: int = 10) -> list[str]:
    """``n`` distinct one-time codes like "k7m2q-x9hfa": 10 characters, ~49.5 random bits each."""
    codes: dict[str, None] = {}
    while len(codes) < n:
        raw = "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(BACKUP_LENGTH))
        codes[f"{raw[:5]}-{raw[5:]}"] = None
    return list(codes)


def normalise_backup_code(code: str) -> str | None:
    """The 10 code characters, lower-cased, without dashes or spaces; None if not a code."""
    if not isinstance(code, str) or len(code) > 40:
        return None
    raw = "".join(code.split()).replace("-", "").lower()
    if len(raw) != BACKUP_LENGTH or not set(raw) <= set(BACKUP_ALPHABET):
        return None
    return raw


def backup_pepper(secret_key: str) -> bytes:
    """The HMAC key for backup codes, derived from SECRET_KEY (its own HKDF context)."""
    return _derive(secret_key, _PEPPER_INFO)


def hash_backup_code(code: str, pepper: bytes) -> str:
    """Hex HMAC-SHA256 of the normalised code; raises ValueError if ``code`` is not a code."""
    raw = normalise_backup_code(code)
    if raw is None:
        raise ValueError("not a backup code")
    if len(pepper) < 16:
        raise ValueError("pepper too short")
    return hmac.new(pepper, raw.encode("ascii"), hashlib.sha256).hexdigest()


def check_backup_code(code: str, stored_hashes: Iterable[str], pepper: bytes) -> str | None:
    """The stored hash that ``code`` matches (to mark used), or None. Compares in constant time."""
    if normalise_backup_code(code) is None:
        return None
    digest = hash_backup_code(code, pepper)
    matched = None
    for stored in stored_hashes:
        if hmac.compare_digest(digest, stored):
            matched = stored
    return matched
