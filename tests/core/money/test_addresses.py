"""Address validation against the published vectors and well-known real addresses.

Sources: BIP-173 and BIP-350 test vectors (bitcoin/bips), EIP-55's checksum examples,
and real addresses (Bitcoin genesis, the USDT contracts on Ethereum and TRON, Bisq's
Litecoin and Dogecoin asset tests). Every single-character corruption of a real address
must be refused.
"""

from __future__ import annotations

import string

import base58
import pytest

from core.errors import DomainError
from core.money.addresses import (
    MAX_INPUT,
    Encoding,
    InvalidAddress,
    Reason,
    _hrp_expand,
    _polymod,
    _regroup,
    bech32_decode,
    eip55,
    validate_address,
)


def reason_of(asset: str, text: str, network: str = "mainnet", chain: str | None = None) -> str:
    with pytest.raises(InvalidAddress) as info:
        validate_address(asset, text, network, chain)
    return info.value.reason


# --- BIP-173 / BIP-350: the generic Bech32 and Bech32m strings ---------------------------

BECH32_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
BECH32M_VALID = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
# (string, reason) - BIP-173 then BIP-350 invalid lists; no string is valid as either.
BECH32_INVALID = [
    ("\x201nwldj5", Reason.BAD_CHARS),  # HRP character out of range
    ("\x7f1axkwrx", Reason.BAD_CHARS),
    ("\x801eym55h", Reason.BAD_CHARS),
    (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        Reason.TOO_LONG,
    ),
    ("pzry9x0s0muk", Reason.BAD_FORMAT),  # no separator
    ("1pzry9x0s0muk", Reason.BAD_FORMAT),  # empty HRP
    ("x1b4n0q5v", Reason.BAD_CHARS),  # invalid data character
    ("li1dgmt3", Reason.BAD_FORMAT),  # too short checksum
    ("de1lg7wt\xff", Reason.BAD_CHARS),
    ("A1G7SGD8", Reason.BAD_CHECKSUM),  # checksum over the upper-case HRP
    ("10a06t8", Reason.BAD_FORMAT),
    ("1qzzfhee", Reason.BAD_FORMAT),
    ("\x201xj0phk", Reason.BAD_CHARS),
    ("\x7f1g6xzxy", Reason.BAD_CHARS),
    ("\x801vctc34", Reason.BAD_CHARS),
    (
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        Reason.TOO_LONG,
    ),
    ("qyrz8wqd2c9m", Reason.BAD_FORMAT),
    ("1qyrz8wqd2c9m", Reason.BAD_FORMAT),
    ("y1b0jsk6g", Reason.BAD_CHARS),
    ("lt1igcx5c0", Reason.BAD_CHARS),
    ("in1muywd", Reason.BAD_FORMAT),
    ("mm1crxm3i", Reason.BAD_CHARS),  # invalid character in checksum
    ("au1s5cgom", Reason.BAD_CHARS),
    ("M1VUXWEZ", Reason.BAD_CHECKSUM),
    ("16plkw9", Reason.BAD_FORMAT),
    ("1p2gdwpf", Reason.BAD_FORMAT),
]


@pytest.mark.parametrize("text", BECH32_VALID)
def test_bip173_valid_bech32(text):
    hrp, _, encoding = bech32_decode(text)
    assert encoding is Encoding.BECH32
    assert hrp == text[: text.rfind("1")].lower()


@pytest.mark.parametrize("text", BECH32M_VALID)
def test_bip350_valid_bech32m(text):
    assert bech32_decode(text)[2] is Encoding.BECH32M


@pytest.mark.parametrize(("text", "reason"), BECH32_INVALID)
def test_bip173_bip350_invalid_strings(text, reason):
    with pytest.raises(InvalidAddress) as info:
        bech32_decode(text)
    assert info.value.reason == reason


# --- BIP-350 segwit addresses (BIP-173's list as amended) --------------------------------

# (address, scriptPubKey hex) - BIP-350 valid list.
SEGWIT_VALID = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]


def expected_kind(spk: bytes) -> str:
    version = 0 if spk[0] == 0 else spk[0] - 0x50
    if version == 0:
        return {20: "p2wpkh", 32: "p2wsh"}[spk[1]]
    return "p2tr" if version == 1 and spk[1] == 32 else "segwit"


@pytest.mark.parametrize(("text", "spk_hex"), SEGWIT_VALID)
def test_bip350_valid_segwit_addresses(text, spk_hex):
    spk = bytes.fromhex(spk_hex)
    network = "mainnet" if text.lower().startswith("bc1") else "testnet"
    address = validate_address("BTC", text, network)
    assert address.text == text.lower()
    assert (address.asset, address.chain, address.network) == ("BTC", "bitcoin", network)
    assert address.kind == expected_kind(spk)
    _, data, _ = bech32_decode(text)
    assert data[0] == (0 if spk[0] == 0 else spk[0] - 0x50)
    assert _regroup(data[1:], 5, 8, pad=False) == spk[2:]
    assert spk[1] == len(spk) - 2


SEGWIT_INVALID = [
    # BIP-350
    ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", Reason.WRONG_NETWORK),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", Reason.BAD_CHECKSUM),
    ("tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", Reason.BAD_CHECKSUM),
    ("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", Reason.BAD_CHECKSUM),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", Reason.BAD_CHECKSUM),
    ("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", Reason.BAD_CHECKSUM),
    ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", Reason.BAD_CHARS),
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", Reason.BAD_WITNESS_VERSION),
    ("bc1pw5dgrnzv", Reason.BAD_LENGTH),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav", Reason.BAD_LENGTH),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", Reason.BAD_LENGTH),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", Reason.MIXED_CASE),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", Reason.BAD_FORMAT),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", Reason.BAD_FORMAT),
    ("bc1gmk9yu", Reason.BAD_FORMAT),
    # BIP-173
    ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", Reason.WRONG_NETWORK),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", Reason.BAD_CHECKSUM),
    ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", Reason.BAD_WITNESS_VERSION),
    ("bc1rw5uspcuh", Reason.BAD_LENGTH),
    ("bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90", Reason.BAD_LENGTH),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", Reason.MIXED_CASE),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", Reason.BAD_FORMAT),
    ("tb1pw508d6qejxtdg4y5r3zarqfsj6c3", Reason.BAD_FORMAT),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", Reason.BAD_FORMAT),
    # BIP-173's valid v1+ examples are Bech32, which BIP-350 made invalid for v1..v16.
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx", Reason.BAD_CHECKSUM),
    ("BC1SW50QA3JX3S", Reason.BAD_CHECKSUM),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj", Reason.BAD_CHECKSUM),
]


@pytest.mark.parametrize(("text", "reason"), SEGWIT_INVALID)
@pytest.mark.parametrize("network", ["mainnet", "testnet"])
def test_bip173_bip350_invalid_segwit_addresses(text, reason, network):
    # Structure is judged before the network, so the reason does not depend on it.
    assert reason_of("BTC", text, network) == reason
    assert reason_of("LTC", text, network) == reason


# --- Real addresses, every chain ----------------------------------------------------------

# (asset, chain or None, network, text, expected chain, kind, normal form or None = as given)
REAL = [
    ("BTC", None, "mainnet", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "bitcoin", "p2pkh", None),  # genesis
    ("BTC", None, "mainnet", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "bitcoin", "p2sh", None),
    ("BTC", None, "mainnet", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "bitcoin", "p2wpkh", None),
    (
        "BTC",
        None,
        "mainnet",
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
        "bitcoin",
        "p2wsh",
        None,
    ),
    (
        "BTC",
        None,
        "mainnet",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "bitcoin",
        "p2tr",
        None,
    ),
    ("BTC", None, "testnet", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "bitcoin", "p2wpkh", None),
    ("BTC", None, "testnet", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "bitcoin", "p2pkh", None),
    ("BTC", None, "testnet", "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc", "bitcoin", "p2sh", None),
    ("LTC", None, "mainnet", "LTVdcw8fdTTK4TcebTZ4jiiCbvTXaRxZNh", "litecoin", "p2pkh", None),
    ("LTC", None, "mainnet", "Lg3PX8wRWmApFCoCMAsPF5P9dPHYQHEWKW", "litecoin", "p2pkh", None),
    ("LTC", None, "mainnet", "MGEW4aba3tnrVtVhGcmoqqHaLt5ymPSLPi", "litecoin", "p2sh", None),
    ("LTC", None, "mainnet", "MLkMXXwmuFFA5L6DmTejSgcxwZfT99f7pg", "litecoin", "p2sh", None),
    ("LTC", None, "mainnet", "ltc1qxtm55gultqzhqzl2p3ks50hg2478y3hehuj6dz", "litecoin", "p2wpkh", None),
    ("LTC", None, "testnet", "mhKYHWXLmQb93RuzyVmTK2KmM8KJPFrzdb", "litecoin", "p2pkh", None),
    ("LTC", None, "testnet", "Qcjgixb2zRFpZYdrp3FHPpkwYgiFdo1XaU", "litecoin", "p2sh", None),
    ("DOGE", None, "mainnet", "DEa7damK8MsbdCJztidBasZKVsDLJifWfE", "dogecoin", "p2pkh", None),
    ("DOGE", None, "mainnet", "DNkkfdUvkCDiywYE98MTVp9nQJTgeZAiFr", "dogecoin", "p2pkh", None),
    ("DOGE", None, "mainnet", "A6T5s5B1Saja9yAJWxQN8SNXvNzxaoFdcy", "dogecoin", "p2sh", None),
    ("DOGE", None, "mainnet", "9xqCpm3DpUYSzcoQSPb5SEGDwn9NRqwZnH", "dogecoin", "p2sh", None),
    ("TRX", None, "mainnet", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "tron", "tron", None),  # USDT-TRC20
    ("TRX", None, "mainnet", "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb", "tron", "tron", None),  # 0x41 + zeros
    ("USDT", None, "mainnet", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "tron", "tron", None),
    ("USDT", None, "mainnet", "TA3941uFAvmVibSkQ6fMJXxmaSNovX86mz", "tron", "tron", None),
    # USDT-ERC20 contract, given as checksum, all-lower and all-upper
    ("USDT", None, "mainnet", "0xdAC17F958D2ee523a2206206994597C13D831ec7", "ethereum", "evm", None),
    (
        "USDT",
        None,
        "mainnet",
        "0xdac17f958d2ee523a2206206994597c13d831ec7",
        "ethereum",
        "evm",
        "0xdAC17F958D2ee523a2206206994597C13D831ec7",
    ),
    (
        "USDT",
        "bsc",
        "mainnet",
        "0xDAC17F958D2EE523A2206206994597C13D831EC7",
        "bsc",
        "evm",
        "0xdAC17F958D2ee523a2206206994597C13D831ec7",
    ),
    ("USDT", "tron", "testnet", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "tron", "tron", None),
]


@pytest.mark.parametrize(("asset", "chain", "network", "text", "want_chain", "kind", "normal"), REAL)
def test_real_addresses(asset, chain, network, text, want_chain, kind, normal):
    address = validate_address(asset, text, network, chain)
    assert (address.asset, address.chain, address.network, address.kind) == (asset, want_chain, network, kind)
    assert address.text == (normal or text)
    assert str(address) == address.text
    assert validate_address(asset, f"  {text}\n", network, chain) == address


# EIP-55's examples: checksum form of each (the first two happen to be all upper, the next
# two all lower).
EIP55 = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("text", EIP55)
def test_eip55_vectors(text):
    assert eip55(text[2:]) == text
    assert eip55(text[2:].lower()) == text
    for given in (text, "0x" + text[2:].lower(), "0x" + text[2:].upper()):
        assert validate_address("USDT", given, chain="ethereum").text == text


def test_eip55_wrong_case_is_a_bad_checksum():
    # Swap the case of one letter of a mixed-case vector.
    text = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert reason_of("USDT", text.replace("aA", "AA", 1)) == Reason.BAD_CHECKSUM


# --- Single-character corruptions: every one refused --------------------------------------

CORRUPTIBLE = [(a, c, n, t) for a, c, n, t, *_ in REAL if not t.startswith("0x")]
ALPHABET = [chr(c) for c in range(0x21, 0x7F)]


@pytest.mark.parametrize(("asset", "chain", "network", "text"), CORRUPTIBLE)
def test_every_substitution_deletion_and_swap_is_refused(asset, chain, network, text):
    variants = set()
    for i, original in enumerate(text):
        variants.update(text[:i] + c + text[i + 1 :] for c in ALPHABET if c != original)
        variants.add(text[:i] + text[i + 1 :])
        if i + 1 < len(text) and text[i] != text[i + 1]:
            variants.add(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
    if text.islower() or text.isupper():
        # A bech32 address read back in the other case is the same address.
        variants.discard(text.swapcase())
    accepted = []
    for variant in variants:
        try:
            validate_address(asset, variant, network, chain)
        except InvalidAddress:
            continue
        accepted.append(variant)
    assert accepted == []


@pytest.mark.parametrize("text", [*EIP55, "0xdAC17F958D2ee523a2206206994597C13D831ec7"])
def test_evm_corruptions_the_checksum_can_catch_are_refused(text):
    # EIP-55 catches every change of case and anything not hex; a different hex digit is only
    # caught with probability 1 - 2**-letters (0.0247% slip through on average, per the EIP),
    # so those are not claimed here.
    for i in range(2, len(text)):
        head, c, tail = text[:i], text[i], text[i + 1 :]
        if c.isalpha():
            assert reason_of("USDT", head + c.swapcase() + tail) == Reason.BAD_CHECKSUM
        for other in "gGzZ-_ .":
            with pytest.raises(InvalidAddress):
                validate_address("USDT", head + other + tail, chain="ethereum")
        assert reason_of("USDT", head + tail, chain="ethereum") == Reason.BAD_LENGTH
    for bad_prefix in ("0X", "00", "1x", "x0"):
        with pytest.raises(InvalidAddress):
            validate_address("USDT", bad_prefix + text[2:], chain="ethereum")


# --- Networks and version bytes -------------------------------------------------------------

HASH20 = bytes(range(1, 21))


def b58(version: int) -> str:
    return base58.b58encode_check(bytes([version]) + HASH20).decode()


def bech32_encode(hrp: str, version: int, program: bytes, m: bool | None = None) -> str:
    """Encoder after BIP-173/350 (test only): bech32m for v1+ unless told."""
    data = [version, *_regroup(list(program), 8, 5, pad=True)]
    const = (Encoding.BECH32M if (version and m is None) or m else Encoding.BECH32).value
    polymod = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join("qpzry9x8gf2tvdw0s3jn54khce6mua7l"[d] for d in data + checksum)


# (asset, text, network it belongs to, kind)
VERSIONS = [
    ("BTC", b58(0x00), "mainnet", "p2pkh"),
    ("BTC", b58(0x05), "mainnet", "p2sh"),
    ("BTC", b58(0x6F), "testnet", "p2pkh"),
    ("BTC", b58(0xC4), "testnet", "p2sh"),
    ("BTC", bech32_encode("bc", 0, HASH20), "mainnet", "p2wpkh"),
    ("BTC", bech32_encode("tb", 1, HASH20 + HASH20[:12]), "testnet", "p2tr"),
    ("LTC", b58(0x30), "mainnet", "p2pkh"),
    ("LTC", b58(0x32), "mainnet", "p2sh"),
    ("LTC", b58(0x05), "mainnet", "p2sh"),
    ("LTC", b58(0x6F), "testnet", "p2pkh"),
    ("LTC", b58(0x3A), "testnet", "p2sh"),
    ("LTC", b58(0xC4), "testnet", "p2sh"),
    ("LTC", bech32_encode("ltc", 0, HASH20 + HASH20[:12]), "mainnet", "p2wsh"),
    ("LTC", bech32_encode("ltc", 1, HASH20 + HASH20[:12]), "mainnet", "p2tr"),
    ("LTC", bech32_encode("tltc", 0, HASH20), "testnet", "p2wpkh"),
    ("DOGE", b58(0x1E), "mainnet", "p2pkh"),
    ("DOGE", b58(0x16), "mainnet", "p2sh"),
    ("DOGE", b58(0x71), "testnet", "p2pkh"),
    ("DOGE", b58(0xC4), "testnet", "p2sh"),
]


@pytest.mark.parametrize(("asset", "text", "home", "kind"), VERSIONS)
def test_version_bytes_and_hrps(asset, text, home, kind):
    assert validate_address(asset, text, home).kind == kind
    away = "testnet" if home == "mainnet" else "mainnet"
    assert reason_of(asset, text, away) == (Reason.TESTNET if home == "testnet" else Reason.WRONG_NETWORK)


def test_prefixes_look_as_documented():
    assert b58(0x30)[0] == "L" and b58(0x32)[0] == "M" and b58(0x3A)[0] == "Q"
    assert b58(0x1E)[0] == "D" and b58(0x16)[0] in "9A" and b58(0x41)[0] == "T"
    assert len(b58(0x41)) == 34


def test_regtest_is_refused():
    text = bech32_encode("bcrt", 0, HASH20)
    assert reason_of("BTC", text, "mainnet") == Reason.TESTNET
    assert reason_of("BTC", text, "testnet") == Reason.WRONG_NETWORK
    assert reason_of("LTC", bech32_encode("rltc", 0, HASH20), "testnet") == Reason.WRONG_NETWORK


def test_witness_versions_beyond_taproot_are_accepted_as_generic_segwit():
    # BIP-350 asks senders to accept every version 1..16 with a 2..40-byte program.
    for version in (1, 2, 16):
        for size in (2, 20, 40):
            if version == 1 and size == 32:
                continue
            assert validate_address("BTC", bech32_encode("bc", version, bytes(size))).kind == "segwit"
    assert reason_of("BTC", bech32_encode("bc", 1, bytes(32), m=False)) == Reason.BAD_CHECKSUM
    assert reason_of("BTC", bech32_encode("bc", 0, bytes(20), m=True)) == Reason.BAD_CHECKSUM


def test_litecoin_mweb_is_refused():
    text = bech32_encode("ltcmweb", 0, bytes(20))  # shape only: real ones are 66 bytes
    assert reason_of("LTC", text) == Reason.UNSUPPORTED_KIND
    assert reason_of("BTC", text) == Reason.WRONG_NETWORK


@pytest.mark.parametrize(
    ("asset", "text"),
    [
        ("BTC", "LTVdcw8fdTTK4TcebTZ4jiiCbvTXaRxZNh"),
        ("BTC", "ltc1qxtm55gultqzhqzl2p3ks50hg2478y3hehuj6dz"),
        ("BTC", "DEa7damK8MsbdCJztidBasZKVsDLJifWfE"),
        ("BTC", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
        ("BTC", "0xdAC17F958D2ee523a2206206994597C13D831ec7"),
        ("LTC", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ("LTC", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        ("DOGE", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        ("DOGE", "LTVdcw8fdTTK4TcebTZ4jiiCbvTXaRxZNh"),
        ("TRX", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ("TRX", "0xdAC17F958D2ee523a2206206994597C13D831ec7"),
        ("TRX", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        ("USDT", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ("USDT", "DEa7damK8MsbdCJztidBasZKVsDLJifWfE"),
    ],
)
def test_another_coins_address_is_wrong_network(asset, text):
    assert reason_of(asset, text) == Reason.WRONG_NETWORK


USDT_ERC20 = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
USDT_TRC20 = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


def test_usdt_chain_choice():
    assert validate_address("USDT", USDT_TRC20).chain == "tron"
    assert validate_address("usdt", USDT_ERC20).chain == "ethereum"
    assert validate_address("USDT", USDT_ERC20, chain="polygon").chain == "polygon"
    assert reason_of("USDT", USDT_ERC20, chain="tron") == Reason.WRONG_NETWORK
    assert reason_of("USDT", USDT_TRC20, chain="ethereum") == Reason.WRONG_NETWORK
    assert reason_of("USDT", USDT_TRC20, chain="bitcoin") == Reason.UNSUPPORTED_CHAIN
    assert reason_of("TRX", USDT_TRC20, chain="ethereum") == Reason.UNSUPPORTED_CHAIN


@pytest.mark.parametrize("asset", ["DUST", "XMR", "", "BTCX"])
def test_unsupported_assets(asset):
    assert reason_of(asset, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa") == Reason.UNSUPPORTED_ASSET


def test_unknown_network_is_a_programming_error():
    with pytest.raises(ValueError):
        validate_address("BTC", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "regtest")


# --- Input hygiene -----------------------------------------------------------------------------

GENESIS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", Reason.EMPTY),
        ("   \n\t", Reason.EMPTY),
        (None, Reason.EMPTY),
        ("\u200b", Reason.EMPTY),
        ("1" * (MAX_INPUT + 1), Reason.TOO_LONG),
        (" " * 5000 + GENESIS, Reason.TOO_LONG),
        (GENESIS[:10] + " " + GENESIS[10:], Reason.BAD_CHARS),
        (GENESIS[:10] + "\t" + GENESIS[10:], Reason.BAD_CHARS),
        (GENESIS[:10] + "\x00" + GENESIS[10:], Reason.BAD_CHARS),
        (GENESIS[:10] + "\u200b" + GENESIS[10:], Reason.BAD_CHARS),
        (GENESIS.replace("A", "\u0410", 1), Reason.BAD_CHARS),  # Cyrillic A
        (GENESIS[:-1] + "\uff41", Reason.BAD_CHARS),  # full-width a
        (GENESIS + "\x7f", Reason.BAD_CHARS),
        (GENESIS[:-1] + "0", Reason.BAD_CHARS),  # 0 is not Base58
        (GENESIS[:-1] + "b", Reason.BAD_CHECKSUM),
        ("1111111111", Reason.BAD_CHECKSUM),
        (base58.b58encode_check(b"\x00" + bytes(19)).decode(), Reason.BAD_LENGTH),
        (base58.b58encode_check(b"\x00" + bytes(21)).decode(), Reason.BAD_LENGTH),
        (base58.b58encode_check(b"\x99" + bytes(20)).decode(), Reason.WRONG_NETWORK),
    ],
)
def test_input_hygiene(text, reason):
    assert reason_of("BTC", text) == reason


@pytest.mark.parametrize("edge", [" ", "\n", "\t", "\u00a0", "\u200b", "\ufeff", "\u200e", " \u200b \u200b "])
def test_invisible_edges_are_stripped(edge):
    assert validate_address("BTC", edge + GENESIS + edge).text == GENESIS


@pytest.mark.parametrize(
    ("asset", "text", "reason"),
    [
        ("TRX", base58.b58encode_check(b"\x41" + bytes(19)).decode(), Reason.BAD_LENGTH),
        ("TRX", base58.b58encode_check(b"\xa0" + bytes(20)).decode(), Reason.WRONG_NETWORK),
        ("TRX", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6T", Reason.BAD_CHECKSUM),
        ("TRX", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj60", Reason.BAD_CHARS),
        ("USDT", "0x" + "g" * 40, Reason.BAD_CHARS),
        ("USDT", "0x123", Reason.BAD_LENGTH),
        ("USDT", "0x" + "a" * 41, Reason.BAD_LENGTH),
        ("USDT", "0X" + "a" * 40, Reason.BAD_FORMAT),
        ("USDT", "dac17f958d2ee523a2206206994597c13d831ec7", Reason.BAD_CHARS),
    ],
)
def test_tron_and_evm_shapes(asset, text, reason):
    assert reason_of(asset, text) == reason


def test_error_is_a_domain_error_without_the_address():
    with pytest.raises(DomainError) as info:
        validate_address("BTC", GENESIS[:-1] + "b")
    assert GENESIS[:20] not in str(info.value)
    assert info.value.reason == "bad_checksum"


def test_reasons_are_plain_strings():
    assert {r.value for r in Reason} >= {
        "empty",
        "bad_checksum",
        "wrong_network",
        "testnet",
        "bad_length",
        "bad_chars",
        "mixed_case",
        "bad_witness_version",
        "unsupported_asset",
    }
    assert all(set(r.value) <= set(string.ascii_lowercase + "_") for r in Reason)
