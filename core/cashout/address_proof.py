"""Proof that whoever sends a signature holds the key of an address: a message signed by the
wallet, over a challenge the bot gave (pure: no database, no network).

The challenge is one line of ASCII, bound to the Telegram user, the coin, the address and
an expiry, with a code that is an HMAC of those under SECRET_KEY: the bot can rebuild it
from those values alone (nothing stored), and no one can make one the bot would accept
for another user, address or expiry.

What each chain's wallets sign, and how it is checked (secp256k1 public key recovery by
``coincurve``, the libsecp256k1 bindings; nothing is verified by hand but the hashing):

- Bitcoin, Litecoin, Dogecoin: the classic ``signmessage``. The digest is double SHA-256 of
  varint-prefixed magic ("Bitcoin Signed Message:\\n", "Litecoin Signed Message:\\n",
  "Dogecoin Signed Message:\\n") and varint-prefixed message; the signature is base64 of
  65 bytes, a header then r and s. Header 27-30: uncompressed key, 31-34: compressed key
  (Bitcoin Core, for P2PKH), 35-38: P2SH-P2WPKH and 39-42: P2WPKH (BIP-137, Trezor and
  others). The key recovered with the header's recovery id must hash to the address:
  P2PKH from the key as the header says (compressed or not); P2SH-P2WPKH and P2WPKH, which
  only a compressed key can have, from the compressed key, whichever header in 31-42 the
  wallet wrote (Electrum signs segwit addresses with 31-34). Taproot and P2WSH addresses
  need BIP-322 proofs, which this does not verify: they are refused as unsupported, and so
  is a Dogecoin P2SH address (a script: no single key).
- EVM chains (USDT): EIP-191 ``personal_sign``: Keccak-256 of "\\x19Ethereum Signed
  Message:\\n" + the message's length in bytes (decimal) + the message; the signature is
  65 bytes hex r, s, v (27/28, or 0/1); the address is the last 20 bytes of the Keccak-256
  of the uncompressed key.
- TRON (TRX, USDT on TRON): TronWeb's ``signMessageV2``: the same with "\\x19TRON Signed
  Message:\\n"; the address is 0x41 + those 20 bytes in Base58Check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import coincurve
from Crypto.Hash import RIPEMD160, keccak

from core.errors import DomainError
from core.money import EVM_CHAINS, Address, program

CHALLENGE_TTL = timedelta(minutes=30)
MAGIC = {
    "bitcoin": b"Bitcoin Signed Message:\n",
    "litecoin": b"Litecoin Signed Message:\n",
    "dogecoin": b"Dogecoin Signed Message:\n",
}
_SUPPORTED = {
    "bitcoin": ("p2pkh", "p2sh", "p2wpkh"),
    "litecoin": ("p2pkh", "p2sh", "p2wpkh"),
    "dogecoin": ("p2pkh",),
    "tron": ("tron",),
    **{chain: ("evm",) for chain in EVM_CHAINS},
}
_HEX = re.compile(r"(?:0x)?([0-9a-fA-F]{130})")


class ProofError(DomainError):
    """proof_unsupported (this address cannot sign here), proof_bad_signature (not a signature
    at all), proof_mismatch (a signature, but not by this address's key over this message),
    proof_expired."""


def supported(address: Address) -> bool:
    """Whether an ownership proof can be checked for this address."""
    return address.kind in _SUPPORTED.get(address.chain, ())


def challenge(user_id: int, address: Address, expires_at: datetime, secret_key: str) -> str:
    """The exact text the user signs: one ASCII line, bound to the user, coin, address and
    expiry (minute precision, UTC), with a code only this installation can make."""
    expires = expires_at.astimezone(UTC).replace(second=0, microsecond=0)
    stamp = expires.strftime("%Y-%m-%d %H:%M")
    data = f"address-proof|{user_id}|{address.asset}|{address.chain}|{address.text}|{stamp}"
    code = hmac.new(secret_key.encode(), data.encode(), hashlib.sha256).hexdigest()[:16]
    return (
        f"Dustpan: I own {address.asset} address {address.text} and link it to Telegram user "
        f"{user_id}. Expires {stamp} UTC. Code {code}"
    )


def expiry(now: datetime) -> datetime:
    """When a challenge issued ``now`` expires: CHALLENGE_TTL later, at a whole minute."""
    return (now + CHALLENGE_TTL).astimezone(UTC).replace(second=0, microsecond=0)


def verify(address: Address, message: str, signature: str) -> None:
    """Raise ProofError unless ``signature`` is the wallet signature of ``message`` by the key
    of ``address`` (see the module for each chain's format)."""
    if not supported(address):
        raise ProofError("proof_unsupported", asset=address.asset, kind=address.kind)
    text = (signature or "").strip()
    if address.chain in MAGIC:
        _verify_signmessage(address, message.encode(), text)
    else:
        prefix = (
            b"\x19TRON Signed Message:\n" if address.chain == "tron" else b"\x19Ethereum Signed Message:\n"
        )
        _verify_keccak(address, prefix, message.encode(), text)


def _varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def signmessage_digest(chain: str, message: bytes) -> bytes:
    """The digest ``signmessage`` signs: double SHA-256 of the prefixed magic and message."""
    magic = MAGIC[chain]
    data = _varint(len(magic)) + magic + _varint(len(message)) + message
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def keccak_digest(prefix: bytes, message: bytes) -> bytes:
    """EIP-191 personal_sign (and TRON's V2) digest: Keccak-256 of prefix, length, message."""
    return keccak.new(digest_bits=256, data=prefix + str(len(message)).encode() + message).digest()


def _hash160(data: bytes) -> bytes:
    return RIPEMD160.new(hashlib.sha256(data).digest()).digest()


def _recover(rs: bytes, recid: int, digest: bytes) -> coincurve.PublicKey:
    try:
        return coincurve.PublicKey.from_signature_and_message(rs + bytes([recid]), digest, hasher=None)
    except Exception:  # r or s out of range, or no point to recover: it was not made by any key
        raise ProofError("proof_mismatch") from None


def _verify_signmessage(address: Address, message: bytes, text: str) -> None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError("proof_bad_signature") from None
    if len(raw) != 65 or not 27 <= raw[0] <= 42:
        raise ProofError("proof_bad_signature")
    header = raw[0]
    key = _recover(raw[1:], (header - 27) & 3, signmessage_digest(address.chain, message))
    want = program(address)
    compressed = key.format(compressed=True)
    if address.kind == "p2pkh":
        ok = _hash160(compressed if header >= 31 else key.format(compressed=False)) == want
    elif header < 31:  # segwit keys are compressed; an uncompressed header cannot be theirs
        ok = False
    elif address.kind == "p2wpkh":
        ok = _hash160(compressed) == want
    else:  # P2SH: only P2SH-P2WPKH (the script 0 <20-byte key hash>) has a key to prove
        ok = _hash160(b"\x00\x14" + _hash160(compressed)) == want
    if not ok:
        raise ProofError("proof_mismatch")


def _verify_keccak(address: Address, prefix: bytes, message: bytes, text: str) -> None:
    m = _HEX.fullmatch(text)
    if m is None:
        raise ProofError("proof_bad_signature")
    raw = bytes.fromhex(m[1])
    v = raw[64]
    recid = v - 27 if v in (27, 28) else v
    if recid not in (0, 1):
        raise ProofError("proof_bad_signature")
    key = _recover(raw[:64], recid, keccak_digest(prefix, message))
    account = keccak.new(digest_bits=256, data=key.format(compressed=False)[1:]).digest()[-20:]
    if account != program(address):
        raise ProofError("proof_mismatch")


__all__ = ["CHALLENGE_TTL", "ProofError", "challenge", "expiry", "supported", "verify"]
