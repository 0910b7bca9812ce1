"""/proof: the user's own leaf and path in today's proof of liabilities, one JSON file per coin."""

from __future__ import annotations

import json

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from core.config import Settings
from core.identity.users import User
from core.money.assets import ASSET_CODES
from core.platform.db import Database
from core.platform.params import Params
from core.trust import proof
from handlers.common.i18n import _, amount, get_i18n
from handlers.common.menu import back_to_menu
from handlers.common.private import private_chat_only

VERIFY = "python3 tools/verify_proof.py {file} --root {root} --total {total}"


def published_line(root: proof.Root) -> str:
    return _("{asset} on {day}: total {total} over {users} balances, root <code>{root}</code>").format(
        asset=root.asset,
        day=root.day,
        total=amount(root.total, root.asset),
        users=root.leaves,
        root=root.root_hash,
    )


async def cmd_proof(message: Message, user: User, db: Database, settings: Settings) -> None:
    roots = await db.read(proof.latest_roots)
    if not roots:
        await message.answer(
            _(
                "No proof of liabilities has been published yet. The first comes with the daily job (00:10 UTC)."
            ),
            reply_markup=back_to_menu(),
        )
        return
    docs = [
        d
        for a in ASSET_CODES
        if a in roots
        for d in [await db.read(proof.proof_document, settings.secret_key, user.id, a)]
        if d
    ]
    if not docs:
        await message.answer(
            _("The latest proofs count no balance of yours. They cover what users held when they were taken:")
            + "\n"
            + "\n".join(published_line(r) for r in roots.values()),
            reply_markup=back_to_menu(),
        )
        return
    await message.answer(
        _(
            "🧾 <b>Proof of liabilities</b>\nEvery day we publish, per coin, the root of a tree that adds up "
            "every user's balance. Here is your place in it: your balance, your secret salt (keep it to "
            "yourself), and the path to the root."
        )
    )
    for doc in docs:
        name = f"proof-{doc['asset']}-{doc['day']}.json"
        data = json.dumps(doc, indent=1).encode()
        caption = _(
            "Check it: <code>{command}</code> (tools/verify_proof.py is in our repository; it needs only Python)."
        ).format(command=VERIFY.format(file=name, root=doc["root"], total=doc["total"]))
        await message.answer_document(BufferedInputFile(data, filename=name), caption=caption)


async def announce_roots(bot: Bot, params: Params, roots: list[proof.Root]) -> None:
    """Post the day's roots to ``ops.channel``, when one is set (jobs.proof calls it)."""
    channel = str(params.get("ops.channel") or "").strip()
    if not channel or not roots:
        return
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale(i18n.default_locale):  # a channel has no language of its own
        lines = [_("🧾 Proof of liabilities published")] + [published_line(r) for r in roots]
        lines.append(_("Users check their balance with /proof and tools/verify_proof.py."))
    await bot.send_message(int(channel) if channel.lstrip("-").isdigit() else channel, "\n".join(lines))


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_proof, Command("proof"))
    return routes
