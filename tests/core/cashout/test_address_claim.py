"""Squatted payout addresses (issue 9, item 7): linking stays first come, first served, but the
key's holder takes an address over by signing the bot's challenge; the squatter loses it
(link and address book), is told, and the takeover is audited."""

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import base58
import coincurve
import pyotp
import pytest
from sqlalchemy import select

from core.cashout import addressbook
from core.cashout.address_proof import ProofError
from core.earn import payout_links
from core.errors import DomainError
from core.identity import twofa
from core.identity.users import upsert_user
from core.platform import audit
from core.platform.db import Database
from core.platform.notices import notices
from tests.core.cashout.test_address_proof import (
    bech32_address,
    evm_address,
    hash160,
    signmessage,
    tron_address,
)
from tests.core.cashout.test_address_proof import keccak_sign as _keccak_sign

KEY = "k" * 40
SQUATTER, OWNER = 7, 8
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def btc_wallet():
    key = coincurve.PrivateKey()
    address = bech32_address("bc", hash160(key.public_key.format(compressed=True)))
    return address, lambda message: signmessage(key, "bitcoin", message, 39)


async def users(db):
    for uid, name in ((SQUATTER, "squat"), (OWNER, "owner")):
        await db.write(upsert_user, id=uid, username=name, first_name=name, language_code="en")


async def save(db, user_id, address, label="btc", asset="BTC", code=None):
    return await db.write(
        addressbook.save_address,
        user_id,
        asset,
        address,
        label,
        network="mainnet",
        code=code,
        secret_key=KEY,
        max_failures=10,
    )


async def challenge(db, user_id, address, label="btc", asset="BTC", now=NOW):
    return await db.read(
        addressbook.claim_challenge,
        user_id,
        asset,
        address,
        label,
        network="mainnet",
        secret_key=KEY,
        now=now,
    )


async def claim(db, user_id, ch, signature, code=None, now=NOW):
    return await db.write(
        addressbook.claim_address,
        user_id,
        ch.asset,
        ch.address,
        ch.label,
        expires_at=ch.expires_at,
        signature=signature,
        network="mainnet",
        code=code,
        secret_key=KEY,
        max_failures=10,
        now=now,
    )


async def book(db, user_id):
    return {(e.label, e.asset, e.address) for e in await db.read(addressbook.list_addresses, user_id)}


async def test_the_keys_holder_takes_a_squatted_address_over(db):
    await users(db)
    address, sign = btc_wallet()
    await save(db, SQUATTER, address, "mine")
    with pytest.raises(DomainError, match="address_taken"):  # first come stays first served
        await save(db, OWNER, address, "cold")
    ch = await challenge(db, OWNER, address, "cold")
    assert str(OWNER) in ch.text and address in ch.text and ch.expires_at == NOW + timedelta(minutes=30)
    done = await claim(db, OWNER, ch, sign(ch.text))
    assert done.previous_owner == SQUATTER and done.entry.label == "cold"
    assert await db.read(payout_links.find_user, "BTC", address) == OWNER
    assert await book(db, OWNER) == {("cold", "BTC", address)}
    assert await book(db, SQUATTER) == set()  # out of the squatter's address book too
    line = [a for a in await db.read(audit.recent, 5) if a.action == "address_claimed"][0]
    assert line.actor == OWNER and line.details["previous_owner"] == SQUATTER
    assert line.details["address"] == address
    told = await db.read(lambda c: c.execute(select(notices).where(notices.c.chat_id == SQUATTER)).all())
    assert [n.template for n in told] == ["address_claimed"] and address in told[0].params
    with pytest.raises(DomainError, match="address_taken"):  # and it cannot squat it again
        await save(db, SQUATTER, address, "mine")
    with pytest.raises(DomainError, match="address_not_taken"):  # nor ask to prove it without the key
        await challenge(db, OWNER, address, "cold")
    ch2 = await challenge(db, SQUATTER, address, "mine")
    with pytest.raises(ProofError, match="proof_mismatch"):  # the owner's signature is bound to the owner
        await claim(db, SQUATTER, ch2, sign(ch.text))
    assert await db.read(payout_links.find_user, "BTC", address) == OWNER


@pytest.mark.parametrize(
    ("signature", "reason"),
    [("", "proof_bad_signature"), ("not base64!", "proof_bad_signature"), ("other key", "proof_mismatch")],
)
async def test_a_bad_signature_changes_nothing(db, signature, reason):
    await users(db)
    address, _sign = btc_wallet()
    await save(db, SQUATTER, address)
    ch = await challenge(db, OWNER, address)
    if signature == "other key":
        signature = btc_wallet()[1](ch.text)
    with pytest.raises(ProofError, match=reason):
        await claim(db, OWNER, ch, signature)
    assert await db.read(payout_links.find_user, "BTC", address) == SQUATTER
    assert await book(db, SQUATTER) == {("btc", "BTC", address)} and await book(db, OWNER) == set()


async def test_an_expired_or_altered_challenge_is_refused(db):
    await users(db)
    address, sign = btc_wallet()
    await save(db, SQUATTER, address)
    ch = await challenge(db, OWNER, address)
    with pytest.raises(ProofError, match="proof_expired"):
        await claim(db, OWNER, ch, sign(ch.text), now=ch.expires_at + timedelta(seconds=1))
    later = dataclasses.replace(ch, expires_at=ch.expires_at + timedelta(days=30))
    with pytest.raises(ProofError, match="proof_mismatch"):  # an expiry the bot never gave
        await claim(db, OWNER, later, sign(ch.text))
    assert await db.read(payout_links.find_user, "BTC", address) == SQUATTER


async def test_a_free_address_or_ones_own_needs_no_proof(db):
    await users(db)
    address, _sign = btc_wallet()
    with pytest.raises(DomainError, match="address_not_taken"):
        await challenge(db, OWNER, address)
    await save(db, OWNER, address)
    with pytest.raises(DomainError, match="address_not_taken"):
        await challenge(db, OWNER, address)


async def test_an_address_that_cannot_sign_gets_no_challenge(db):
    await users(db)
    taproot = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    await save(db, SQUATTER, taproot)
    with pytest.raises(ProofError, match="proof_unsupported"):
        await challenge(db, OWNER, taproot)


async def test_usdt_on_tron_and_on_ethereum_are_taken_over_too(db):
    await users(db)
    key = coincurve.PrivateKey()
    tron, evm = tron_address(key), evm_address(key)
    for address, prefix in ((tron, b"\x19TRON Signed Message:\n"), (evm, b"\x19Ethereum Signed Message:\n")):
        label = "t" if address == tron else "e"
        await save(db, SQUATTER, address, label, asset="USDT")
        ch = await challenge(db, OWNER, address, label, asset="USDT")
        await claim(db, OWNER, ch, _keccak_sign(key, prefix, ch.text))
        assert await db.read(payout_links.find_user, "USDT", address) == OWNER
    assert await book(db, SQUATTER) == set() and len(await book(db, OWNER)) == 2


async def test_with_2fa_on_the_takeover_needs_the_code(db):
    await users(db)
    setup = await db.write(twofa.begin_setup, OWNER, KEY, "owner")
    totp = pyotp.TOTP(setup.secret)
    await db.write(
        twofa.confirm_setup, OWNER, totp.at(datetime.now(UTC) - timedelta(seconds=30)), KEY, max_failures=10
    )
    address, sign = btc_wallet()
    await save(db, SQUATTER, address)
    now = datetime.now(UTC)
    ch = await challenge(db, OWNER, address, now=now)
    with pytest.raises(twofa.TwoFactorRequired):
        await claim(db, OWNER, ch, sign(ch.text), now=now)
    assert await db.read(payout_links.find_user, "BTC", address) == SQUATTER
    await claim(db, OWNER, ch, sign(ch.text), code=totp.now(), now=now)
    assert await db.read(payout_links.find_user, "BTC", address) == OWNER


async def test_a_takeover_racing_the_squatter_on_another_instance_leaves_one_owner(db, database_url):
    """The squatter keeps re-saving the address from a second bot instance while the owner
    takes it over: whatever the order, the link and both address books agree."""
    await users(db)
    other = Database(database_url)
    await other.start()
    try:
        for round_ in range(8):
            address, sign = btc_wallet()
            await save(db, SQUATTER, address, "a")
            ch = await challenge(db, OWNER, address, f"o{round_}")

            async def squat(label, address=address):
                try:
                    await other.write(
                        addressbook.save_address,
                        SQUATTER,
                        "BTC",
                        address,
                        label,
                        network="mainnet",
                        code=None,
                        secret_key=KEY,
                        max_failures=10,
                    )
                except DomainError as e:
                    assert e.reason == "address_taken"

            await asyncio.gather(claim(db, OWNER, ch, sign(ch.text)), *(squat(f"s{i}") for i in range(4)))
            assert await db.read(payout_links.find_user, "BTC", address) == OWNER
            assert all(a != address for _l, _s, a in await book(db, SQUATTER)), round_
            assert (f"o{round_}", "BTC", address) in await book(db, OWNER)
    finally:
        await other.close()


async def test_on_testnet_a_testnet_address_is_saved_and_taken_over(db):
    """cashout.network=testnet: the address book, the link and the proof all check against it
    (Bitcoin Core's own functional-test vector is a testnet address)."""
    await users(db)
    address = "mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB"
    for who, label in ((SQUATTER, "t"), (OWNER, "mine")):
        try:
            await db.write(
                addressbook.save_address,
                who,
                "BTC",
                address,
                label,
                network="testnet",
                code=None,
                secret_key=KEY,
                max_failures=10,
            )
        except DomainError as e:
            assert who == OWNER and e.reason == "address_taken"
    ch = await db.read(
        addressbook.claim_challenge, OWNER, "BTC", address, "mine", network="testnet", secret_key=KEY, now=NOW
    )
    wif_key = coincurve.PrivateKey(
        base58.b58decode_check("cUeKHd5orzT3mz8P9pxyREHfsWtVfgsfDjiZZBcjUBAaGk1BTj7N")[1:33]
    )
    await db.write(
        addressbook.claim_address,
        OWNER,
        "BTC",
        address,
        "mine",
        expires_at=ch.expires_at,
        signature=signmessage(wif_key, "bitcoin", ch.text, 31),
        network="testnet",
        code=None,
        secret_key=KEY,
        max_failures=10,
        now=NOW,
    )
    assert await db.read(payout_links.find_user, "BTC", address) == OWNER
