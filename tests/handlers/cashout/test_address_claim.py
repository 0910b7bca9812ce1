"""Taking a squatted address over through the real dispatcher: /address explains and offers
"prove it's yours", the bot gives the message to sign, the signature moves the address
(issue 9, item 7)."""

import re
from datetime import UTC, datetime, timedelta

import coincurve
import pyotp
from aiogram import Bot

from core.earn import payout_links
from core.identity import twofa
from core.platform import audit
from core.platform.params import Params
from jobs.notify import NoticeSender
from tests.core.cashout.test_address_proof import (
    bech32_address,
    evm_address,
    hash160,
    keccak_sign,
    signmessage,
)
from tests.handlers.harness import BOT_TOKEN, RecordingSession, texts

SQUATTER, OWNER = 666, 111
KEY = "k" * 40


def wallet():
    key = coincurve.PrivateKey()
    address = bech32_address("bc", hash160(key.public_key.format(compressed=True)))
    return key, address, lambda message: signmessage(key, "bitcoin", message, 39)


def challenge_in(sent) -> str:
    found = re.findall(r"<code>(Dustpan: [^<]+)</code>", texts(sent))
    assert found, texts(sent)
    return found[0].replace("&amp;", "&")


async def notices_to(db, chat_id) -> str:
    session = RecordingSession()
    await NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={})).run_once()
    return texts([s for s in session.sent if s.chat_id == chat_id])


async def test_the_owner_proves_a_squatted_address_and_takes_it_over(tg, db):
    _key, address, sign = wallet()
    squatter = tg.person(SQUATTER, first_name="Mallory", username="mallory", language_code="es")
    owner = tg.person(OWNER)
    await squatter.send("/start")
    await owner.send("/start")
    assert address in texts(await squatter.send(f"/address BTC {address}"))

    offer = await owner.send(f"/address add BTC cold {address}")
    assert "already linked to another account" in texts(offer)
    sent = await owner.tap_button("Prove")
    message = challenge_in(sent)
    assert address in message and str(OWNER) in message
    assert "signmessage" in texts(sent)  # says how to sign

    assert "not a signature" in texts(await owner.send("hello"))
    _other, _a, other_sign = wallet()
    assert "does not match" in texts(await owner.send(other_sign(message)))
    assert await db.read(payout_links.find_user, "BTC", address) == SQUATTER

    done = texts(await owner.send(sign(message)))
    assert "is now yours" in done and "cold" in done
    assert await db.read(payout_links.find_user, "BTC", address) == OWNER
    assert address in texts(await owner.send("/address"))
    assert address not in texts(await squatter.send("/address"))
    assert "ya no te pagan" in await notices_to(db, SQUATTER)  # told, in their language
    assert [a.action for a in await db.read(audit.recent, 3)][:2] == ["address_saved", "address_claimed"]
    assert "ya está vinculada" in texts(await squatter.send(f"/address BTC {address}"))


async def test_the_offer_and_the_proof_for_usdt_on_ethereum(tg, db):
    key = coincurve.PrivateKey()
    address = evm_address(key)
    await tg.person(SQUATTER).send(f"/address USDT {address}")
    owner = tg.person(OWNER)
    await owner.send(f"/address USDT {address}")
    message = challenge_in(await owner.tap_button("Prove"))
    assert "is now yours" in texts(
        await owner.send(keccak_sign(key, b"\x19Ethereum Signed Message:\n", message))
    )
    assert await db.read(payout_links.find_user, "USDT", address) == OWNER


async def test_a_taken_address_that_cannot_sign_gets_no_offer(tg, db):
    taproot = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    await tg.person(SQUATTER).send(f"/address BTC {taproot}")
    sent = await tg.person(OWNER).send(f"/address BTC {taproot}")
    assert "already linked" in texts(sent) and "cannot" in texts(sent)
    assert not any(s.buttons() for s in sent)


async def test_with_2fa_on_the_takeover_asks_for_the_code(tg, db):
    _key, address, sign = wallet()
    await tg.person(SQUATTER).send(f"/address BTC {address}")
    owner = tg.person(OWNER)
    await owner.send("/start")
    setup = await db.write(twofa.begin_setup, OWNER, KEY, "x")
    totp = pyotp.TOTP(setup.secret)
    await db.write(
        twofa.confirm_setup, OWNER, totp.at(datetime.now(UTC) - timedelta(seconds=30)), KEY, max_failures=10
    )
    assert "6-digit code" in texts(await owner.send(f"/address BTC {address}"))
    assert "already linked" in texts(await owner.send(totp.now()))
    message = challenge_in(await owner.tap_button("Prove"))
    assert "6-digit code" in texts(await owner.send(sign(message)))
    assert await db.read(payout_links.find_user, "BTC", address) == SQUATTER
    code = totp.at(datetime.now(UTC) + timedelta(seconds=30))  # the first code was used
    assert "is now yours" in texts(await owner.send(code))
    assert await db.read(payout_links.find_user, "BTC", address) == OWNER


def alert(sent) -> str:
    return " ".join(s.text or "" for s in sent if s.method == "answerCallbackQuery")


async def test_a_stale_offer_button_says_so(tg, db):
    owner = tg.person(OWNER)
    await owner.send("/start")
    assert "send /address again" in alert(await owner.tap("ap:prove", tg.session.sent[-1]))


async def test_an_offer_for_an_address_freed_meanwhile_says_to_just_save_it(tg, db):
    _key, address, _sign = wallet()
    squatter = tg.person(SQUATTER)
    await squatter.send(f"/address BTC {address}")
    owner = tg.person(OWNER)
    await owner.send(f"/address BTC {address}")
    offer = tg.last_with_buttons(OWNER)
    assert "removed" in texts(await squatter.send("/address remove btc"))
    sent = await owner.tap(offer.buttons()[0][1], offer)
    assert "Nobody else holds that address now" in alert(sent) and f"/address BTC {address}" in alert(sent)
    assert "Saved" in texts(await owner.send(f"/address BTC {address}"))
