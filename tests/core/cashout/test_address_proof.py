"""Ownership proofs by signed message: published vectors, and keys made here and signed with
coincurve's signing side in each wallet's format (issue 9, item 7)."""

import base64
import hashlib
from datetime import UTC, datetime

import base58
import coincurve
import pytest
from Crypto.Hash import RIPEMD160, keccak

from core.cashout.address_proof import (
    ProofError,
    challenge,
    expiry,
    keccak_digest,
    signmessage_digest,
    supported,
    verify,
)
from core.money.addresses import _CHARSET, _hrp_expand, _polymod, eip55, validate_address

# -- published vectors -------------------------------------------------------------------------

# Bitcoin Core, src/test/util_tests.cpp (message_verify, message_sign) and
# test/functional/rpc_signmessagewithprivkey.py; bitcoinjs-message, test/fixtures.json
# (compressed/uncompressed, BIP-137 segwit headers, Dogecoin's magic).
VALID = [
    ("BTC", "mainnet", "15CRxFdyRpGZLW9w8HnHvVduizdL5jKNbs", "Trust no one",
     "IPojfrX2dfPnH26UegfbGQQLrdK844DlHq5157/P6h57WyuS/Qsl+h/WSVGDF4MUi4rWSswW38oimDYfNNUBUOk="),
    ("BTC", "mainnet", "11canuhp9X2NocwCq7xNrQYTmUgZAnLK3", "Trust me",
     "IIcaIENoYW5jZWxsb3Igb24gYnJpbmsgb2Ygc2Vjb25kIGJhaWxvdXQgZm9yIGJhbmtzIAaHRtbCeDZINyavx14="),
    ("BTC", "testnet", "mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB", "This is just a test message",
     "INbVnW4e6PeRmsv2Qgu8NuopvrVjkcxob+sX8OcZG0SALhWybUjzMLPdAsXI46YZGb0KQTRii+wWIQzRpG/U+S0="),
    ("BTC", "mainnet", "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM", "vires is numeris",
     "G8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0="),
    ("BTC", "mainnet", "1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs", "vires is numeris",
     "H8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0="),
    ("BTC", "mainnet", "3JvL6Ymt8MVWiCNHC7oWU6nLeHNJKLZGLN", "vires is numeris",
     "JF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8="),
    ("BTC", "mainnet", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "vires is numeris",
     "KF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8="),
    ("DOGE", "mainnet", "DFpN6QqFfUm3gKNaxN6tNcab1FArL9cZLE", "vires is numeris",
     "H6k+dZwJ8oOei3PCSpdj603fDvhlhQ+sqaFNIDvo/bI+Xh6zyIKGzZpyud6YhZ1a5mcrwMVtTWL+VXq/hC5Zj7s="),
    # viem's signMessage docs ("hello world" by the test key 0xac09...ff80) and eth-account's
    # docs (a non-ASCII message: the length is counted in bytes).
    ("USDT", "mainnet", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "hello world",
     "0xa461f509887bd19e312c0c58467ce8ff8e300d3c1a90b608a760c5b80318eaf15fe57c96f9175d6cd4daad4663763baa7e78836e067d0163e9a2ccf2ff753f5b1b"),
    ("USDT", "mainnet", "0x5ce9454909639D2D17A3F753ce7d93fa0b9aB12E", "I♥SF",
     "0xe6ca9bba58c88611fad66a6ce8f996908195593807c4b38bd528d2cff09d4eb33e5bfbbf4d3e39b1a2fd816a7680c19ebebaf3a141b239934ad43cb33fcec8ce1c"),
]  # fmt: skip

INVALID = [  # (asset, address, message, signature, reason)
    ("BTC", "15CRxFdyRpGZLW9w8HnHvVduizdL5jKNbs", "I never signed this",
     "IPojfrX2dfPnH26UegfbGQQLrdK844DlHq5157/P6h57WyuS/Qsl+h/WSVGDF4MUi4rWSswW38oimDYfNNUBUOk=", "proof_mismatch"),
    ("BTC", "1KqbBpLy5FARmTPD4VZnDDpYjkUvkr82Pm", "message should be irrelevant",
     "invalid signature, not in base64 encoding", "proof_bad_signature"),
    ("BTC", "1KqbBpLy5FARmTPD4VZnDDpYjkUvkr82Pm", "message should be irrelevant",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "proof_bad_signature"),
    # bitcoinjs-message: a compressed signature does not prove the uncompressed address, nor back
    ("BTC", "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM", "vires is numeris",
     "H8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0=", "proof_mismatch"),
    ("BTC", "1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs", "vires is numeris",
     "G8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0=", "proof_mismatch"),
    # an uncompressed key has no segwit address
    ("BTC", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "vires is numeris",
     "HF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8=", "proof_mismatch"),
    # the Bitcoin signature of d=1 does not prove Dogecoin's address of d=1: another magic
    ("DOGE", "DFpN6QqFfUm3gKNaxN6tNcab1FArL9cZLE", "vires is numeris",
     "IF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8=", "proof_mismatch"),
    ("USDT", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "hello world!",
     "0xa461f509887bd19e312c0c58467ce8ff8e300d3c1a90b608a760c5b80318eaf15fe57c96f9175d6cd4daad4663763baa7e78836e067d0163e9a2ccf2ff753f5b1b", "proof_mismatch"),
    ("USDT", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "hello world", "0xa461f5", "proof_bad_signature"),
    ("USDT", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "hello world", "0x" + "ab" * 64 + "1d", "proof_bad_signature"),
]  # fmt: skip


@pytest.mark.parametrize(("asset", "network", "address", "message", "signature"), VALID)
def test_published_vectors_verify(asset, network, address, message, signature):
    verify(validate_address(asset, address, network), message, signature)


@pytest.mark.parametrize(("asset", "address", "message", "signature", "reason"), INVALID)
def test_published_bad_signatures_are_refused(asset, address, message, signature, reason):
    with pytest.raises(ProofError) as err:
        verify(validate_address(asset, address), message, signature)
    assert err.value.reason == reason


def test_bitcoin_core_message_hash_vector():
    # bitcoin-ruby's spec of Bitcoin Core's message hash for "Trust no one"
    assert signmessage_digest("bitcoin", b"Trust no one").hex() == (
        "aa8215d723ecd2f14867eeb7e19f192be7bc15a2352a24b991d4f5870cbaf6e8"
    )
    assert signmessage_digest("bitcoin", b"Vires is Numeris").hex() == (  # bitcoinjs-message magicHash
        "f8a5affbef4a3241b19067aa694562f64f513310817297089a8929a930f4f933"
    )
    assert signmessage_digest("dogecoin", b"Vires is Numeris").hex() == (
        "c0963d20d0accd0ea0df6c1020bf85a7e629a40e7b5363f2c3e9dcafd5638f12"
    )


def test_tron_sign_message_v2_vector():
    """Trust Wallet Core's TronMessageSignerTests (TronWeb's signMessageV2 format)."""
    key = coincurve.PrivateKey(
        bytes.fromhex("75065f100e38d3f3b4c5c4235834ba8216de62272a4f03532c44b31a5734360a")
    )
    address = validate_address("TRX", tron_address(key))
    verify(
        address,
        "Hello World",
        "bc0753c070cc55693097df11bc11e1a7c4bd5e1a40b9dc94c75568e59bcc9d6b"
        "50a7873ef25b469e494490a54de37327b4bc7fc825c81a377b555e34fb7261ba1c",
    )
    verify(
        address,
        "A much longer message to test the signing and verification process",
        "0x93aee5f753cf889e0749c74dd0c5996cce889883ae079e09ede462e16d65d06a"
        "4f43d1ed2745e9f3c1690695628269bd58f057a4a93953cc50e66b4a05bc0f451b",
    )


# -- keys made here, signed as each wallet signs -------------------------------------------------


def hash160(data: bytes) -> bytes:
    return RIPEMD160.new(hashlib.sha256(data).digest()).digest()


def b58(version: int, payload: bytes) -> str:
    return base58.b58encode_check(bytes([version]) + payload).decode()


def bech32_address(hrp: str, program: bytes) -> str:
    """BIP-173 encoding of a witness v0 program (the reference algorithm)."""
    acc = bits = 0
    data = [0]
    for b in program:
        acc, bits = (acc << 8) | b, bits + 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    poly = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ 1
    return hrp + "1" + "".join(_CHARSET[d] for d in data + [(poly >> 5 * (5 - i)) & 31 for i in range(6)])


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def evm_address(key: coincurve.PrivateKey) -> str:
    return eip55(keccak256(key.public_key.format(compressed=False)[1:])[-20:].hex())


def tron_address(key: coincurve.PrivateKey) -> str:
    return b58(0x41, keccak256(key.public_key.format(compressed=False)[1:])[-20:])


def signmessage(key, chain: str, message: str, header_base: int) -> str:
    """What Bitcoin Core (27/31), Trezor-style segwit wallets (35/39) produce: base64 of 65 bytes."""
    sig = key.sign_recoverable(signmessage_digest(chain, message.encode()), hasher=None)
    return base64.b64encode(bytes([header_base + sig[64]]) + sig[:64]).decode()


def keccak_sign(key, prefix: bytes, message: str) -> str:
    sig = key.sign_recoverable(keccak_digest(prefix, message.encode()), hasher=None)
    return "0x" + (sig[:64] + bytes([27 + sig[64]])).hex()


ETH = b"\x19Ethereum Signed Message:\n"
TRON = b"\x19TRON Signed Message:\n"


def wallets(key):
    """(asset, address, how the wallet signs) for one key, for every supported kind."""
    pub_c, pub_u = key.public_key.format(compressed=True), key.public_key.format(compressed=False)
    p2sh_p2wpkh = hash160(b"\x00\x14" + hash160(pub_c))
    return [
        ("BTC", b58(0x00, hash160(pub_c)), lambda m: signmessage(key, "bitcoin", m, 31)),
        ("BTC", b58(0x00, hash160(pub_u)), lambda m: signmessage(key, "bitcoin", m, 27)),
        ("BTC", b58(0x05, p2sh_p2wpkh), lambda m: signmessage(key, "bitcoin", m, 35)),
        ("BTC", bech32_address("bc", hash160(pub_c)), lambda m: signmessage(key, "bitcoin", m, 39)),
        (
            "BTC",
            bech32_address("bc", hash160(pub_c)),
            lambda m: signmessage(key, "bitcoin", m, 31),
        ),  # Electrum
        ("LTC", b58(0x30, hash160(pub_c)), lambda m: signmessage(key, "litecoin", m, 31)),
        ("LTC", b58(0x32, p2sh_p2wpkh), lambda m: signmessage(key, "litecoin", m, 35)),
        ("LTC", bech32_address("ltc", hash160(pub_c)), lambda m: signmessage(key, "litecoin", m, 39)),
        ("DOGE", b58(0x1E, hash160(pub_c)), lambda m: signmessage(key, "dogecoin", m, 31)),
        ("USDT", evm_address(key), lambda m: keccak_sign(key, ETH, m)),
        ("USDT", tron_address(key), lambda m: keccak_sign(key, TRON, m)),
        ("TRX", tron_address(key), lambda m: keccak_sign(key, TRON, m)),
    ]


NOW = datetime(2026, 12, 1, 12, 0, 7, tzinfo=UTC)


@pytest.mark.parametrize("n", range(len(wallets(coincurve.PrivateKey()))))
def test_a_fresh_key_proves_its_address_and_nothing_else(n):
    key, other = coincurve.PrivateKey(), coincurve.PrivateKey()
    asset, text, sign = wallets(key)[n]
    address = validate_address(asset, text)
    assert supported(address)
    message = challenge(42, address, expiry(NOW), "k" * 40)
    verify(address, message, sign(message))
    verify(address, message, "  " + sign(message) + "\n")  # pasted with blanks around it
    for wrong_message in (challenge(43, address, expiry(NOW), "k" * 40), message + " "):
        with pytest.raises(ProofError, match="proof_mismatch"):
            verify(address, wrong_message, sign(message))
    with pytest.raises(ProofError, match="proof_mismatch"):  # the same wallet, another key
        verify(address, message, wallets(other)[n][2](message))


def test_one_chains_signature_does_not_prove_another_chains_address():
    key = coincurve.PrivateKey()
    tron = validate_address("TRX", tron_address(key))
    evm = validate_address("USDT", evm_address(key))
    ltc = validate_address("LTC", b58(0x30, hash160(key.public_key.format(compressed=True))))
    with pytest.raises(ProofError, match="proof_mismatch"):
        verify(tron, "m", keccak_sign(key, ETH, "m"))
    with pytest.raises(ProofError, match="proof_mismatch"):
        verify(evm, "m", keccak_sign(key, TRON, "m"))
    with pytest.raises(ProofError, match="proof_mismatch"):
        verify(ltc, "m", signmessage(key, "bitcoin", "m", 31))
    with pytest.raises(ProofError, match="proof_bad_signature"):  # hex where base64 belongs
        verify(ltc, "m", keccak_sign(key, ETH, "m"))


@pytest.mark.parametrize(
    ("asset", "address"),
    [
        ("BTC", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),  # taproot: BIP-322
        ("BTC", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"),  # P2WSH: a script
        ("DOGE", b58(0x16, hash160(b"a script"))),  # Dogecoin P2SH: a script
    ],
)
def test_addresses_without_a_single_key_are_unsupported(asset, address):
    checked = validate_address(asset, address)
    assert not supported(checked)
    with pytest.raises(ProofError, match="proof_unsupported"):
        verify(checked, "m", "x")


def test_the_challenge_binds_user_coin_address_and_expiry():
    a = validate_address("BTC", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    text = challenge(42, a, expiry(NOW), "k" * 40)
    assert text.isascii() and "\n" not in text and "42" in text and a.text in text
    assert "Expires 2026-12-01 12:30 UTC" in text
    assert text == challenge(42, a, expiry(NOW.replace(second=59)), "k" * 40)  # minute precision
    for other in (
        challenge(43, a, expiry(NOW), "k" * 40),
        challenge(42, validate_address("BTC", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"), expiry(NOW), "k" * 40),
        challenge(42, a, expiry(NOW.replace(hour=13)), "k" * 40),
        challenge(42, a, expiry(NOW), "j" * 40),
    ):
        assert other != text
