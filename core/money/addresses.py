"""Withdrawal addresses: is this text a place we can send this asset to, on our network?

``validate_address`` checks the encoding of each chain's address formats exactly as their
specifications say and returns the address in its normal form; it never touches a node.

- Bitcoin, Litecoin: Base58Check P2PKH/P2SH and segwit (BIP-173 Bech32 for witness v0,
  BIP-350 Bech32m for v1..v16). Litecoin still decodes its legacy "3..." P2SH (0x05)
  beside "M..." (0x32), as Litecoin Core does. MWEB addresses are refused.
- Dogecoin: Base58Check only (no segwit).
- EVM chains: "0x" + 40 hex digits; all-lower and all-upper carry no checksum and pass,
  mixed case must be the EIP-55 checksum (Keccak-256, not SHA3-256).
- TRON: Base58Check of 0x41 + 20 bytes ("T...", 34 characters). TRON's test networks use
  the same prefix, so a TRON or EVM address says nothing about its network.

Bech32/Bech32m is written here from BIP-173/BIP-350 (a polymod and a bit regrouping,
tested on the BIPs' own vectors) instead of the unmaintained ``bech32`` package; the
version rules that wallets got wrong are the part worth owning. Base58 uses ``base58``.

Every refusal is ``InvalidAddress`` with a ``reason`` from ``Reason``; ``wrong_network``
and ``testnet`` are only given for text that is well formed for something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, StrEnum

import base58
from Crypto.Hash import keccak

from core.errors import DomainError

MAX_INPUT = 128
NETWORKS = ("mainnet", "testnet")
EVM_CHAINS = ("ethereum", "bsc", "polygon", "arbitrum", "optimism", "base", "avalanche")


class Reason(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"  # over MAX_INPUT characters (before decoding), or over 90 for bech32
    BAD_CHARS = "bad_chars"  # inner whitespace, control or non-ASCII, outside the alphabet
    BAD_FORMAT = "bad_format"  # right characters, wrong shape (no separator, bad padding...)
    BAD_LENGTH = "bad_length"  # decoded payload or witness program of the wrong size
    MIXED_CASE = "mixed_case"  # bech32 in both cases
    BAD_CHECKSUM = "bad_checksum"  # includes EIP-55 case errors and bech32 vs bech32m
    BAD_WITNESS_VERSION = "bad_witness_version"
    WRONG_NETWORK = "wrong_network"  # valid, but for another coin, chain or network
    TESTNET = "testnet"  # valid test network address while we run on mainnet
    UNSUPPORTED_ASSET = "unsupported_asset"  # no on-chain withdrawals (DUST) or unknown
    UNSUPPORTED_CHAIN = "unsupported_chain"  # ``chain`` not one the asset travels on
    UNSUPPORTED_KIND = "unsupported_kind"  # a real format we do not send to (Litecoin MWEB)


class InvalidAddress(DomainError):
    """The text is not a usable withdrawal address; ``reason`` is a ``Reason`` value."""

    def __init__(self, reason: Reason, **params: object) -> None:
        super().__init__(str(reason), **params)


@dataclass(frozen=True, slots=True)
class Address:
    """A checked address. ``text`` is the normal form to store and send to."""

    asset: str
    chain: str  # bitcoin, litecoin, dogecoin, tron, or one of EVM_CHAINS
    network: str  # mainnet or testnet: the configuration it was checked against
    text: str
    kind: str  # p2pkh, p2sh, p2wpkh, p2wsh, p2tr, segwit (other versions), evm, tron

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class _UtxoChain:
    name: str
    versions: dict[int, tuple[str, str]]  # Base58 version byte -> (network, kind)
    hrps: dict[str, str]  # segwit human-readable part -> network


_BITCOIN = _UtxoChain(
    "bitcoin",
    {
        0x00: ("mainnet", "p2pkh"),
        0x05: ("mainnet", "p2sh"),
        0x6F: ("testnet", "p2pkh"),
        0xC4: ("testnet", "p2sh"),
    },
    {"bc": "mainnet", "tb": "testnet", "bcrt": "regtest"},
)
_LITECOIN = _UtxoChain(
    "litecoin",
    {
        0x30: ("mainnet", "p2pkh"),
        0x32: ("mainnet", "p2sh"),
        0x05: ("mainnet", "p2sh"),  # legacy "3..."; Litecoin Core decodes it, encodes 0x32
        0x6F: ("testnet", "p2pkh"),
        0x3A: ("testnet", "p2sh"),
        0xC4: ("testnet", "p2sh"),
    },
    {"ltc": "mainnet", "tltc": "testnet", "rltc": "regtest"},
)
_DOGECOIN = _UtxoChain(
    "dogecoin",
    {
        0x1E: ("mainnet", "p2pkh"),
        0x16: ("mainnet", "p2sh"),
        0x71: ("testnet", "p2pkh"),
        0xC4: ("testnet", "p2sh"),
    },
    {},
)
_ALL_HRPS = frozenset(h for c in (_BITCOIN, _LITECOIN, _DOGECOIN) for h in c.hrps)
_MWEB_HRPS = frozenset({"ltcmweb", "tmweb"})
_TRON_VERSION = 0x41

_ASSET_CHAINS: dict[str, tuple[str, ...]] = {
    "BTC": ("bitcoin",),
    "LTC": ("litecoin",),
    "DOGE": ("dogecoin",),
    "TRX": ("tron",),
    "USDT": ("tron", *EVM_CHAINS),
}
_UTXO = {c.name: c for c in (_BITCOIN, _LITECOIN, _DOGECOIN)}

_PRINTABLE = re.compile(r"[\x21-\x7e]+")
_BASE58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")
_HEX = re.compile(r"[0-9a-fA-F]*")
_EDGE_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"


def validate_address(asset: str, address: str, network: str = "mainnet", chain: str | None = None) -> Address:
    """Check ``address`` as a destination for ``asset`` on ``network``; return its normal form.

    ``chain`` picks one chain of a multi-chain asset; without it USDT takes a "0x" address
    as Ethereum and anything else as TRON. Surrounding whitespace (and invisible
    zero-width marks) is stripped; inner whitespace is refused. Pure and cheap: input
    over MAX_INPUT characters is refused before any decoding.
    Raises InvalidAddress; ValueError if ``network`` is not one of NETWORKS.
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}")
    code = asset.strip().upper() if isinstance(asset, str) else ""
    chains = _ASSET_CHAINS.get(code)
    if chains is None:
        raise InvalidAddress(Reason.UNSUPPORTED_ASSET, asset=code[:16])
    if chain is not None:
        if chain not in chains:
            raise InvalidAddress(Reason.UNSUPPORTED_CHAIN, asset=code, chain=str(chain)[:16])
        chains = (chain,)
    text = _clean(address)
    if len(chains) > 1:
        chains = ("ethereum",) if text[:2].lower() == "0x" else ("tron",)
    name = chains[0]
    if name in _UTXO:
        text, kind = _check_utxo(_UTXO[name], text, network)
    elif name == "tron":
        text, kind = _check_tron(text), "tron"
    else:
        text, kind = _check_evm(text), "evm"
    return Address(asset=code, chain=name, network=network, text=text, kind=kind)


def _clean(address: object) -> str:
    if not isinstance(address, str):
        raise InvalidAddress(Reason.EMPTY)
    if len(address) > 8 * MAX_INPUT:  # before stripping: padding cannot hide a novel
        raise InvalidAddress(Reason.TOO_LONG)
    s = address
    while True:
        t = s.strip().strip(_EDGE_INVISIBLE)
        if t == s:
            break
        s = t
    if not s:
        raise InvalidAddress(Reason.EMPTY)
    if len(s) > MAX_INPUT:
        raise InvalidAddress(Reason.TOO_LONG)
    if not _PRINTABLE.fullmatch(s):
        raise InvalidAddress(Reason.BAD_CHARS)
    return s


def _check_network(found: str, network: str) -> None:
    if found == network:
        return
    if network == "mainnet":
        raise InvalidAddress(Reason.TESTNET)  # testnet or regtest
    raise InvalidAddress(Reason.WRONG_NETWORK)


def _foreign(s: str) -> bool:
    """Whether ``s`` is well formed for some format other than the one being checked."""
    if s[:2] == "0x" and len(s) == 42 and _HEX.fullmatch(s[2:]):
        return True
    if _BASE58.fullmatch(s):
        try:
            return len(base58.b58decode_check(s)) == 21
        except ValueError:
            return False
    try:
        bech32_decode(s)
    except InvalidAddress:
        return False
    return True


# --- Bitcoin family ---------------------------------------------------------------------


def _check_utxo(chain: _UtxoChain, s: str, network: str) -> tuple[str, str]:
    sep = s.rfind("1")
    hrp = s[:sep].lower() if sep > 0 else ""
    if hrp in _MWEB_HRPS:
        raise InvalidAddress(Reason.UNSUPPORTED_KIND if chain is _LITECOIN else Reason.WRONG_NETWORK)
    if hrp in _ALL_HRPS:
        return _check_segwit(chain, s, network)
    if _BASE58.fullmatch(s):
        payload = _b58check(s)
        version = payload[0]
        if version not in chain.versions:
            raise InvalidAddress(Reason.WRONG_NETWORK if len(payload) == 21 else Reason.BAD_LENGTH)
        if len(payload) != 21:
            raise InvalidAddress(Reason.BAD_LENGTH)
        found, kind = chain.versions[version]
        _check_network(found, network)
        return s, kind
    if _foreign(s):
        raise InvalidAddress(Reason.WRONG_NETWORK)
    raise InvalidAddress(Reason.BAD_CHARS)


def _check_segwit(chain: _UtxoChain, s: str, network: str) -> tuple[str, str]:
    """BIP-173 as amended by BIP-350: structure first, then whose address it is."""
    hrp, data, encoding = bech32_decode(s)
    if not data:
        raise InvalidAddress(Reason.BAD_FORMAT)
    version = data[0]
    if version > 16:
        raise InvalidAddress(Reason.BAD_WITNESS_VERSION)
    program = _regroup(data[1:], 5, 8, pad=False)
    if program is None:
        raise InvalidAddress(Reason.BAD_FORMAT)
    if not 2 <= len(program) <= 40 or (version == 0 and len(program) not in (20, 32)):
        raise InvalidAddress(Reason.BAD_LENGTH)
    if encoding is not (Encoding.BECH32 if version == 0 else Encoding.BECH32M):
        raise InvalidAddress(Reason.BAD_CHECKSUM)
    found = chain.hrps.get(hrp)
    if found is None:
        raise InvalidAddress(Reason.WRONG_NETWORK)
    _check_network(found, network)
    if version == 0:
        kind = "p2wpkh" if len(program) == 20 else "p2wsh"
    elif version == 1 and len(program) == 32:
        kind = "p2tr"
    else:
        kind = "segwit"  # valid per BIP-350; not yet spendable by anyone's rules
    return s.lower(), kind


def _b58check(s: str) -> bytes:
    """Decode Base58Check text already known to use only the Base58 alphabet."""
    try:
        payload = base58.b58decode_check(s)
    except ValueError:
        raise InvalidAddress(Reason.BAD_CHECKSUM) from None
    if not payload:
        raise InvalidAddress(Reason.BAD_LENGTH)
    return payload


# --- Bech32 / Bech32m (BIP-173, BIP-350) ------------------------------------------------


class Encoding(Enum):
    BECH32 = 1
    BECH32M = 0x2BC830A3  # the constant the checksum residue equals


_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_decode(s: str) -> tuple[str, list[int], Encoding]:
    """Decode a Bech32 or Bech32m string: (lower-case hrp, 5-bit data without checksum, encoding).

    Raises InvalidAddress: too_long (over 90), bad_chars, mixed_case, bad_format (no
    separator, empty hrp, short checksum), bad_checksum (neither constant).
    """
    if len(s) > 90:
        raise InvalidAddress(Reason.TOO_LONG)
    if any(not 33 <= ord(c) <= 126 for c in s):
        raise InvalidAddress(Reason.BAD_CHARS)
    if s.lower() != s and s.upper() != s:
        raise InvalidAddress(Reason.MIXED_CASE)
    s = s.lower()
    sep = s.rfind("1")
    if sep < 1 or sep + 7 > len(s):
        raise InvalidAddress(Reason.BAD_FORMAT)
    hrp = s[:sep]
    data = [_CHARSET.find(c) for c in s[sep + 1 :]]
    if -1 in data:
        raise InvalidAddress(Reason.BAD_CHARS)
    residue = _polymod(_hrp_expand(hrp) + data)
    for encoding in Encoding:
        if residue == encoding.value:
            return hrp, data[:-6], encoding
    raise InvalidAddress(Reason.BAD_CHECKSUM)


def _regroup(data: list[int], frombits: int, tobits: int, pad: bool) -> bytes | None:
    """Regroup bits (BIP-173 convertbits); None if the padding is not canonical."""
    acc = bits = 0
    out = bytearray()
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or (acc << (tobits - bits)) & maxv:
        return None
    return bytes(out)


# --- TRON and EVM -----------------------------------------------------------------------


def _check_tron(s: str) -> str:
    if not _BASE58.fullmatch(s):
        raise InvalidAddress(Reason.WRONG_NETWORK if _foreign(s) else Reason.BAD_CHARS)
    payload = _b58check(s)
    if len(payload) != 21:
        raise InvalidAddress(Reason.BAD_LENGTH)
    if payload[0] != _TRON_VERSION:
        raise InvalidAddress(Reason.WRONG_NETWORK)
    return s


def _check_evm(s: str) -> str:
    if s[:2] != "0x":
        raise InvalidAddress(Reason.WRONG_NETWORK if _foreign(s) else Reason.BAD_FORMAT)
    digits = s[2:]
    if not _HEX.fullmatch(digits):
        raise InvalidAddress(Reason.BAD_CHARS)
    if len(digits) != 40:
        raise InvalidAddress(Reason.BAD_LENGTH)
    checksummed = eip55(digits)
    if digits not in (digits.lower(), digits.upper()) and "0x" + digits != checksummed:
        raise InvalidAddress(Reason.BAD_CHECKSUM)
    return checksummed


def program(address: Address) -> bytes:
    """The hash an address commits to: the 20-byte key or script hash of a Base58 address,
    the witness program of a segwit one, the 20-byte account of a TRON or EVM address.
    ``address`` must come from ``validate_address`` (it is not checked again)."""
    if address.kind == "evm":
        return bytes.fromhex(address.text[2:])
    if address.chain in _UTXO and address.kind in ("p2wpkh", "p2wsh", "p2tr", "segwit"):
        _hrp, data, _enc = bech32_decode(address.text)
        return _regroup(data[1:], 5, 8, pad=False) or b""
    return base58.b58decode_check(address.text)[1:]


def eip55(hex40: str) -> str:
    """The EIP-55 mixed-case form ("0x...") of 40 hex digits given in any case."""
    lower = hex40.lower()
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(lower, digest, strict=False))


__all__ = [
    "EVM_CHAINS",
    "MAX_INPUT",
    "NETWORKS",
    "Address",
    "Encoding",
    "InvalidAddress",
    "Reason",
    "bech32_decode",
    "eip55",
    "program",
    "validate_address",
]
