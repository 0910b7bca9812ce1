"""/addresses: the withdrawal address book (labels for /withdraw). Adding or changing an
address needs the 2FA code when 2FA is on. An address someone else linked first gets the
offer to prove it is yours (handlers.cashout.address_proof, included here).
"""

from __future__ import annotations

import html
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from core.cashout import addressbook
from core.config import Settings
from core.errors import DomainError
from core.identity.users import User
from core.money.addresses import InvalidAddress, Reason
from core.platform.db import Database
from core.platform.params import Params
from handlers.cashout import address_proof
from handlers.common import errors
from handlers.common.args import words
from handlers.common.data import shown
from handlers.common.i18n import _, __
from handlers.common.menu import MenuCB, back_to_menu
from handlers.common.private import private_chat_only
from handlers.security.twofa import code_or_run, guarded, on_code

_ADDRESS_REASONS = {
    Reason.BAD_CHARS: __("That address contains characters an address cannot have."),
    Reason.BAD_FORMAT: __("That does not look like an address."),
    Reason.BAD_LENGTH: __("That address has the wrong length."),
    Reason.MIXED_CASE: __("That address mixes upper and lower case; please paste it exactly."),
    Reason.BAD_CHECKSUM: __("That address has a typo: its checksum does not match."),
    Reason.BAD_WITNESS_VERSION: __("That address uses an unsupported format."),
    Reason.WRONG_NETWORK: __("That address belongs to another coin or network."),
    Reason.TESTNET: __("That is a testnet address; only real (mainnet) addresses are accepted."),
    Reason.UNSUPPORTED_ASSET: __("{asset} cannot be withdrawn to an address."),
    Reason.UNSUPPORTED_CHAIN: __("That network is not supported for this coin."),
    Reason.UNSUPPORTED_KIND: __("That kind of address is not supported."),
}
for _reason, _text in _ADDRESS_REASONS.items():
    errors.register(str(_reason), _text, kind=InvalidAddress)
errors.register("empty", __("Please enter an address."), kind=InvalidAddress)
errors.register("too_long", __("That address is too long."), kind=InvalidAddress)
errors.register("bad_label", __("A label is 1 to 24 letters, digits, - or _."))
errors.register("too_many_addresses", __("Your address book is full ({limit} addresses)."))
errors.register("no_such_label", __("No address labelled {label}."))
errors.register("label_other_asset", __("The label {label} is an address for {asset}."))


def usage() -> str:
    return _(
        "Add: /address ASSET ADDRESS, or with a label: /address add ASSET LABEL ADDRESS\n"
        "Remove: /address remove LABEL\n"
        "Then withdraw with /withdraw AMOUNT ASSET LABEL"
    )


async def book_text(db: Database, user: User) -> str:
    rows = await db.read(addressbook.list_addresses, user.id)
    lines = [_("<b>Your withdrawal addresses</b>")]
    lines += [
        f"{e.asset} · <b>{html.escape(e.label)}</b> · <code>{html.escape(e.address)}</code>" for e in rows
    ]
    if not rows:
        lines.append(_("None yet."))
    username = f"@{user.username}" if user.username else "-"
    lines.append(
        _("Faucet sites pay you at any of these addresses or at your username {username}.").format(
            username=html.escape(username)
        )
    )
    return "\n".join(lines) + "\n\n" + usage()


async def cb_menu(query: CallbackQuery, user: User, db: Database) -> None:
    message = shown(query)
    await message.edit_text(await book_text(db, user), reply_markup=back_to_menu())
    await query.answer()


async def cmd_address(
    message: Message,
    command: CommandObject,
    user: User,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext,
) -> None:
    args = words(command)
    verb = args[0].lower() if args else ""
    if not args:
        await message.answer(await book_text(db, user), reply_markup=back_to_menu())
    elif verb == "remove" and len(args) in (2, 3):
        await remove(message, user, db, args[1:])
    elif (verb == "add" and len(args) == 4) or (verb not in ("add", "remove") and len(args) == 2):
        asset, label, address = (args[1], args[2], args[3]) if verb == "add" else (args[0], args[0], args[1])
        # A bad label or a bad or testnet address is refused before any code is asked for.
        addressbook.check_entry(asset, address, label, str(params.get("cashout.network")))
        await code_or_run(
            db,
            user.id,
            message,
            state,
            "address_add",
            lambda: save(message, user, asset, label, address, None, db, settings, params, state),
            asset=asset,
            label=label,
            address=address,
        )
    else:
        await message.answer(usage())


async def remove(message: Message, user: User, db: Database, what: list[str]) -> None:
    """``/address remove LABEL`` or ``/address remove ASSET ADDRESS``."""
    if len(what) == 1:
        label = what[0]
        await db.write(addressbook.remove_address, user.id, label)
    else:
        label = await db.write(addressbook.remove_by_address, user.id, what[0], what[1])
    await message.answer(_("Address {label} removed.").format(label=html.escape(label)))


async def save(
    message: Message,
    user: User,
    asset: str,
    label: str,
    address: str,
    code: str | None,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext | None = None,
) -> None:
    try:
        e = await guarded(
            db,
            user.id,
            addressbook.save_address,
            user.id,
            asset,
            address,
            label,
            network=str(params.get("cashout.network")),
            code=code,
            secret_key=settings.secret_key,
            max_failures=params.get("twofa.max_failures"),
            twofa_session=params.get("twofa.session"),
        )
    except DomainError as err:
        if err.reason != "address_taken" or state is None:
            raise
        await address_proof.offer_proof(message, asset, label, address, params, state)
        return
    await message.answer(
        _("Saved {label}: {asset} <code>{address}</code>").format(
            label=html.escape(e.label), asset=e.asset, address=html.escape(e.address)
        )
    )


@on_code("address_add")
async def save_with_code(
    message: Message,
    code: str,
    data: dict[str, Any],
    *,
    user: User,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext | None = None,
    **_deps: Any,
) -> None:
    await save(
        message, user, data["asset"], data["label"], data["address"], code, db, settings, params, state
    )


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.include_router(address_proof.router())  # the parent's private-only check covers it
    routes.callback_query.register(cb_menu, MenuCB.filter(F.to == "addresses"))
    routes.message.register(cmd_address, Command("address", "addresses"))
    return routes
