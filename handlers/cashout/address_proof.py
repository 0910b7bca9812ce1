"""Taking over an address someone else linked first: /address explains and offers "prove it's
yours"; the bot gives a one-line message to sign with the address's wallet; the signature
pasted back moves the address (core.cashout.addressbook.claim_address), with the 2FA code when
2FA is on. A wrong signature is refused before any code is asked for.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.cashout import address_proof, addressbook
from core.config import Settings
from core.identity.users import User
from core.money.addresses import validate_address
from core.platform.db import Database
from core.platform.params import Params
from handlers.common import errors
from handlers.common import notices as notice_texts
from handlers.common.data import shown, text_of
from handlers.common.filters import NotCommand
from handlers.common.i18n import _, __
from handlers.common.prompts import cancel_markup, remember
from handlers.security.twofa import code_or_run, guarded, on_code


class ProveCB(CallbackData, prefix="ap"):
    action: str  # prove


class Proof(StatesGroup):
    signature = State()  # the challenge was given: waiting for the signature


errors.register(
    "address_not_taken",
    __("Nobody else holds that address now: save it with /address {asset} {address}."),
)
errors.register(
    "proof_bad_signature",
    __(
        "That is not a signature. Paste exactly what your wallet gave you for the message above "
        "(base64 for BTC, LTC and DOGE; 0x and 130 hex digits for USDT and TRX)."
    ),
)
errors.register(
    "proof_mismatch",
    __(
        "That signature does not match: it was not made by this address's key over the message above. "
        "Nothing was changed."
    ),
)
errors.register("proof_expired", __("That message expired. Send /address again for a new one."))
errors.register(
    "proof_unsupported",
    __("This kind of address cannot prove its owner with a signed message here. Nothing was changed."),
)
notice_texts.register(
    "address_claimed",
    lambda p: _(
        "🔏 Your {asset} address <code>{address}</code> was taken over by its owner, who proved it with a "
        "signature from its key. Faucet sites no longer pay you there, and it left your address book."
    ).format(asset=html.escape(str(p["asset"])), address=html.escape(str(p["address"]))),
)


async def offer_proof(
    message: Message, asset: str, label: str, address: str, params: Params, state: FSMContext
) -> None:
    """Someone else linked this address first: explain, and offer to prove it is the user's."""
    checked = validate_address(asset, address, str(params.get("cashout.network")))
    text = _(
        "That address is already linked to another account. Faucet sites pay whoever linked an "
        "address first, so if it is yours, prove it: sign a message with its wallet and it moves to you."
    )
    if not address_proof.supported(checked):
        await message.answer(
            text + "\n" + _("This kind of address cannot prove its owner with a signed message here.")
        )
        return
    await state.set_state(None)
    await state.set_data({"claim": {"asset": checked.asset, "label": label, "address": checked.text}})
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🔏 Prove it's yours"), callback_data=ProveCB(action="prove"))
    await message.answer(text, reply_markup=kb.as_markup())


def how_to_sign(asset: str) -> str:
    if asset in ("BTC", "LTC", "DOGE"):
        return _(
            "Sign it with the wallet that holds the address: in Bitcoin Core (or Litecoin, Dogecoin Core) "
            'use signmessage ADDRESS "MESSAGE"; in Electrum, Tools → Sign/verify message. '
            "Then send me the signature (base64)."
        )
    return _(
        "Sign it with the wallet that holds the address (MetaMask, TronLink, Trust Wallet: "
        "sign message / personal_sign), then send me the signature (0x…)."
    )


async def cb_prove(
    query: CallbackQuery, user: User, db: Database, settings: Settings, params: Params, state: FSMContext
) -> None:
    message = shown(query)
    claim = (await state.get_data()).get("claim")
    if not claim:
        await query.answer(_("That offer is no longer valid: send /address again."), show_alert=True)
        return
    ch = await db.read(  # a refusal (the address is free now, say) is the error router's alert
        addressbook.claim_challenge,
        user.id,
        claim["asset"],
        claim["address"],
        claim["label"],
        network=str(params.get("cashout.network")),
        secret_key=settings.secret_key,
    )
    await state.set_state(Proof.signature)
    await state.set_data({"claim": {**claim, "expires": ch.expires_at.timestamp()}})
    await query.answer()
    await remember(state, await message.answer(challenge_text(ch), reply_markup=cancel_markup()))


def challenge_text(ch: addressbook.Challenge) -> str:
    return (
        _("To prove that {asset} address <code>{address}</code> is yours, sign this exact message:").format(
            asset=ch.asset, address=html.escape(ch.address)
        )
        + f"\n\n<code>{html.escape(ch.text)}</code>\n\n"
        + how_to_sign(ch.asset)
        + "\n"
        + _("It expires at {time} UTC.").format(time=f"{ch.expires_at:%H:%M}")
    )


async def on_signature_input(
    message: Message, user: User, db: Database, settings: Settings, params: Params, state: FSMContext
) -> None:
    claim = (await state.get_data()).get("claim") or {}
    if not claim.get("expires"):
        await state.clear()
        await message.answer(_("That offer is no longer valid: send /address again."))
        return
    await check_signature(user, claim, text_of(message), settings, params, state)
    await state.clear()
    data = {**claim, "signature": text_of(message).strip()}
    await code_or_run(
        db,
        user.id,
        message,
        state,
        "address_claim",
        lambda: take_over(message, user, data, None, db, settings, params),
        **data,
    )


async def check_signature(
    user: User, claim: dict[str, Any], signature: str, settings: Settings, params: Params, state: FSMContext
) -> None:
    """A wrong signature is refused before any 2FA code is asked for; an expired offer ends."""
    try:
        addressbook.check_claim(
            user.id,
            claim["asset"],
            claim["address"],
            expires_at=datetime.fromtimestamp(claim["expires"], UTC),
            signature=signature,
            network=str(params.get("cashout.network")),
            secret_key=settings.secret_key,
        )
    except address_proof.ProofError as err:
        if err.reason == "proof_expired":
            await state.clear()
        raise


async def take_over(
    message: Message,
    user: User,
    data: dict[str, Any],
    code: str | None,
    db: Database,
    settings: Settings,
    params: Params,
) -> None:
    done = await guarded(
        db,
        user.id,
        addressbook.claim_address,
        user.id,
        data["asset"],
        data["address"],
        data["label"],
        expires_at=datetime.fromtimestamp(data["expires"], UTC),
        signature=data["signature"],
        network=str(params.get("cashout.network")),
        code=code,
        secret_key=settings.secret_key,
        max_failures=params.get("twofa.max_failures"),
    )
    e = done.entry
    await message.answer(
        _(
            "{asset} address <code>{address}</code> is now yours: saved as {label}. Faucet sites pay you there."
        ).format(asset=e.asset, address=html.escape(e.address), label=html.escape(e.label))
    )


@on_code("address_claim")
async def claim_with_code(
    message: Message,
    code: str,
    data: dict[str, Any],
    *,
    user: User,
    db: Database,
    settings: Settings,
    params: Params,
    **_deps: Any,
) -> None:
    await take_over(message, user, data, code, db, settings, params)


def router() -> Router:
    routes = Router(name=__name__)
    routes.callback_query.register(cb_prove, ProveCB.filter(F.action == "prove"))
    routes.message.register(on_signature_input, Proof.signature, NotCommand())
    return routes
