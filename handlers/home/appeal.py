"""/appeal TEXT: a banned user (or one whose withdrawals are frozen) asks the admins to look
again (core.ops.moderation.appeal: every admin gets it as a notice; one an hour). Also the words
users read about their standing: the refusals ``banned`` and ``withdrawals_frozen`` that every
use case may raise (core.identity.standing), and the notice telling them of a ban or freeze.
"""

from __future__ import annotations

import html

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from core.errors import DomainError
from core.identity.users import User
from core.ops import moderation
from core.platform.db import Database
from handlers.common import errors
from handlers.common import notices as notice_texts
from handlers.common.data import AdminIds
from handlers.common.formatting import wait_text
from handlers.common.i18n import _, __
from handlers.common.private import private_chat_only


def _banned(e: DomainError) -> str:
    return _(
        "⛔ Your account is banned: {reason}\nYour balance is kept. To ask an admin to look again: "
        "/appeal followed by your message."
    ).format(reason=e.params.get("why") or "?")


def _frozen(e: DomainError) -> str:
    text = _("🧊 Your withdrawals are frozen, and so are sends, tips and checks.")
    if e.params.get("why"):
        text += " " + _("Reason: {reason}").format(reason=e.params["why"])
    return text + "\n" + _("To ask an admin to look again: /appeal followed by your message.")


errors.register("banned", _banned)
errors.register("withdrawals_frozen", _frozen)
errors.register("not_restricted", __("Your account is in good standing: there is nothing to appeal."))
errors.register(
    "appeal_empty", __("Write your appeal after the command: /appeal I was playing fairly because ...")
)
errors.register("appeal_too_long", __("Your appeal is too long: at most {longest} characters, please."))
errors.register(
    "appeal_too_soon",
    lambda e: _("You appealed less than an hour ago. You can appeal again in {wait}.").format(
        wait=wait_text(int(str(e.params.get("seconds", 60))))
    ),
)

_APPEAL_HOW = __("To ask an admin to look again, send /appeal followed by your message.")


def _moderation_notice(p: dict) -> str:
    action, reason = str(p.get("action")), html.escape(str(p.get("reason") or ""))
    if action == moderation.Action.BAN:
        return (
            _(
                "⛔ Your account was banned by an admin: {reason}\nYour balance is kept. Earning, games, "
                "swaps, sending and withdrawals are stopped; withdrawals on their way wait for an admin's review."
            ).format(reason=reason)
            + "\n"
            + str(_APPEAL_HOW)
        )
    if action == moderation.Action.FREEZE:
        text = _(
            "🧊 Your withdrawals were frozen by an admin; sends, tips and checks wait too. Your balance is kept, "
            "and withdrawals on their way wait for an admin's review."
        )
        if reason:
            text += "\n" + _("Reason: {reason}").format(reason=reason)
        return text + "\n" + str(_APPEAL_HOW)
    if action == moderation.Action.UNBAN:
        return _("✅ Your account is no longer banned.")
    return _("✅ Your withdrawals are no longer frozen.")


def _appeal_notice(p: dict) -> str:
    standing = _("banned") if p.get("standing") == "banned" else _("withdrawals frozen")
    return _("📨 Appeal from user {user} ({standing}): {text}\nSee them: /user {user}").format(
        user=p.get("user"), standing=standing, text=html.escape(str(p.get("text", "")))
    )


notice_texts.register("moderation", _moderation_notice)
notice_texts.register("appeal", _appeal_notice)


async def cmd_appeal(
    message: Message, command: CommandObject, user: User, db: Database, admin_ids: AdminIds
) -> None:
    await db.write(moderation.appeal, user.id, command.args or "", admin_ids=admin_ids)
    await message.answer(_("Your appeal was sent to the admins. Their answer will come here."))


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_appeal, Command("appeal"))
    return routes
