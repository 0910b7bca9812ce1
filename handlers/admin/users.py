"""Admin: users. /user shows one user (handlers.admin.user_card); Ban / Unban and Freeze
withdrawals / Unfreeze act on them, by the card's buttons or typed (/ban, /unban, /freeze,
/unfreeze). The typed commands are guarded by handlers.admin.codes like every admin command;
the buttons take the admin's 2FA code in the action's own transaction (with_code), and Ban
first asks for the reason (a prompt with Cancel). core.ops.moderation does the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from core.config import Settings
from core.earn import offers
from core.identity.users import User
from core.ops import moderation
from core.platform.db import Database
from core.platform.params import Params
from core.play import stakes
from handlers.admin.codes import still_admin
from handlers.admin.user_card import UserCB, bad_ref_text, card_markup, card_text, parse_ref
from handlers.common import errors
from handlers.common.data import AdminIds, shown, text_of
from handlers.common.filters import IsAdmin, IsAdminQuery, NotCommand
from handlers.common.i18n import _, __
from handlers.common.menu import MAX_ID
from handlers.common.prompts import cancel_markup, remember
from handlers.security.twofa import code_or_run, on_code, with_code

errors.register("cannot_restrict_self", __("You cannot ban or freeze yourself. Nothing was changed."))
errors.register(
    "cannot_restrict_admin",
    __("User {user} is an admin (ADMIN_IDS): admins cannot be banned or frozen. Nothing was changed."),
)
errors.register("reason_needed", __("Say why: /ban USER REASON. The user reads the reason."))
errors.register("already_banned", __("User {user} is already banned. Nothing was changed."))
errors.register("not_banned", __("User {user} is not banned. Nothing was changed."))
errors.register("already_frozen", __("User {user}'s withdrawals are already frozen. Nothing was changed."))
errors.register("not_frozen", __("User {user}'s withdrawals are not frozen. Nothing was changed."))


class Banning(StatesGroup):
    reason = State()


def _done_text(m: moderation.Moderated) -> str:
    texts = {
        moderation.Action.BAN: _("User {user} is banned. They were told, with how to appeal."),
        moderation.Action.UNBAN: _("User {user} is no longer banned."),
        moderation.Action.FREEZE: _(
            "User {user}'s withdrawals are frozen. They were told, with how to appeal."
        ),
        moderation.Action.UNFREEZE: _("User {user}'s withdrawals are no longer frozen."),
    }
    text = texts[moderation.Action(m.action)].format(user=m.user_id)
    if m.held:
        text += "\n" + _("Held for review in /payouts: {ids}.").format(ids=", ".join(f"#{i}" for i in m.held))
    elif m.action in (moderation.Action.UNBAN, moderation.Action.UNFREEZE):
        text += "\n" + _("Withdrawals held before stay in /payouts until an admin decides.")
    return text


async def _card(db: Database, ref: str) -> tuple[str, Any]:
    c = await db.read(moderation.card, ref)
    limits = await db.read(stakes.get_limits, c.user.id)
    trust = await db.read(offers.trust_of, c.user.id)
    return card_text(c, limits, (trust.released, trust.reversed)), card_markup(c)


async def cmd_user(message: Message, command: CommandObject, db: Database) -> None:
    if not (command.args or "").strip():
        await message.answer(_("Usage: /user ID or /user @username"))
        return
    ref = parse_ref(command.args)
    if ref is None:
        await message.answer(bad_ref_text())
        return
    text, kb = await _card(db, ref)
    await message.answer(text, reply_markup=kb)


def _typed(command: CommandObject) -> tuple[str | None, str]:
    words = (command.args or "").split(maxsplit=1)
    if not words:
        return None, ""
    return parse_ref(words[0]) or "", words[1] if len(words) > 1 else ""


_USE_CASES: dict[str, Callable[..., moderation.Moderated]] = {
    "ban": moderation.ban,
    "unban": moderation.unban,
    "freeze": moderation.freeze,
    "unfreeze": moderation.unfreeze,
}


async def _run_typed(
    message: Message, command: CommandObject, user: User, db: Database, admin_ids: AdminIds, action: str
) -> None:
    ref, rest = _typed(command)
    usage = {
        "ban": _("Usage: /ban USER REASON (USER: a numeric id or @username)"),
        "unban": _("Usage: /unban USER"),
        "freeze": _("Usage: /freeze USER [REASON]"),
        "unfreeze": _("Usage: /unfreeze USER"),
    }[action]
    if ref is None:
        await message.answer(usage)
        return
    if not ref:
        await message.answer(bad_ref_text())
        return
    if action == "ban" and not rest.strip():
        await message.answer(errors.explain(moderation.ModerationError("reason_needed")))
        return
    if action in ("ban", "freeze"):
        done = await db.write(_USE_CASES[action], user.id, ref, rest, admin_ids=admin_ids)
    else:
        done = await db.write(_USE_CASES[action], user.id, ref, admin_ids=admin_ids)
    await message.answer(_done_text(done))


async def cmd_ban(
    message: Message, command: CommandObject, user: User, db: Database, admin_ids: AdminIds
) -> None:
    await _run_typed(message, command, user, db, admin_ids, "ban")


async def cmd_unban(
    message: Message, command: CommandObject, user: User, db: Database, admin_ids: AdminIds
) -> None:
    await _run_typed(message, command, user, db, admin_ids, "unban")


async def cmd_freeze(
    message: Message, command: CommandObject, user: User, db: Database, admin_ids: AdminIds
) -> None:
    await _run_typed(message, command, user, db, admin_ids, "freeze")


async def cmd_unfreeze(
    message: Message, command: CommandObject, user: User, db: Database, admin_ids: AdminIds
) -> None:
    await _run_typed(message, command, user, db, admin_ids, "unfreeze")


# --- the card's buttons ------------------------------------------------------------------


async def act(
    message: Message,
    admin_id: int,
    action: str,
    user_id: int,
    reason: str,
    code: str | None,
    db: Database,
    settings: Settings,
    params: Params,
    admin_ids: AdminIds,
    *,
    card_id: int | None = None,
) -> None:
    """Run a button's action (the code checked in its transaction), then show the card again."""
    fn = _USE_CASES[action]
    kwargs: dict[str, Any] = {"admin_id": admin_id, "ref": str(user_id), "admin_ids": admin_ids}
    if action in ("ban", "freeze"):
        kwargs["reason"] = reason
    done = await with_code(db, admin_id, code, settings, params, fn, **kwargs)
    text, kb = await _card(db, str(user_id))
    if card_id is not None and message.bot is not None:
        # the card is redrawn in place; too old or unchanged, the answer below still says what happened
        with contextlib.suppress(TelegramBadRequest):
            await message.bot.edit_message_text(
                text=text, chat_id=message.chat.id, message_id=card_id, reply_markup=kb
            )
    await message.answer(_done_text(done))


async def cb_user(
    query: CallbackQuery,
    callback_data: UserCB,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext,
    admin_ids: AdminIds,
) -> None:
    message = shown(query)
    admin_id, action, uid = query.from_user.id, callback_data.action, callback_data.id
    if action == "ban":  # the reason first; then the code (if 2FA is on)
        await state.set_state(Banning.reason)
        await state.set_data({"id": uid, "card": message.message_id})
        sent = await message.answer(
            _("Why is user {user} banned? Send the reason (the user reads it).").format(user=uid),
            reply_markup=cancel_markup(),
        )
        await remember(state, sent)
        await query.answer()
        return
    confirming = {
        "unban": _("unban user {user}"),
        "freeze": _("freeze the withdrawals of user {user}"),
        "unfreeze": _("unfreeze the withdrawals of user {user}"),
    }[action].format(user=uid)
    await code_or_run(
        db,
        admin_id,
        message,
        state,
        "moderate",
        lambda: act(
            message,
            admin_id,
            action,
            uid,
            "",
            None,
            db,
            settings,
            params,
            admin_ids,
            card_id=message.message_id,
        ),
        confirming=confirming,
        action=action,
        id=uid,
        reason="",
        card=message.message_id,
    )
    await query.answer()


async def on_reason_input(
    message: Message,
    state: FSMContext,
    user: User,
    db: Database,
    settings: Settings,
    params: Params,
    admin_ids: AdminIds,
) -> None:
    data = await state.get_data()
    await state.clear()
    if not await still_admin(message, admin_ids):
        return
    uid, reason, card = (
        int(data["id"]),
        text_of(message).strip()[: moderation.REASON_LONGEST],
        data.get("card"),
    )
    if not reason:
        await message.answer(errors.explain(moderation.ModerationError("reason_needed")))
        return
    await code_or_run(
        db,
        user.id,
        message,
        state,
        "moderate",
        lambda: act(
            message, user.id, "ban", uid, reason, None, db, settings, params, admin_ids, card_id=card
        ),
        confirming=_("ban user {user}").format(user=uid),
        action="ban",
        id=uid,
        reason=reason,
        card=card,
    )


@on_code("moderate")
async def moderate_with_code(
    message: Message,
    code: str,
    data: dict[str, Any],
    *,
    db: Database,
    settings: Settings,
    params: Params,
    user: User,
    admin_ids: AdminIds,
    **_deps: Any,
) -> None:
    if await still_admin(message, admin_ids):
        card = int(data["card"]) if data.get("card") else None
        await act(
            message,
            user.id,
            str(data["action"]),
            int(data["id"]),
            str(data.get("reason") or ""),
            code,
            db,
            settings,
            params,
            admin_ids,
            card_id=card,
        )


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.filter(IsAdmin())
    routes.message.register(cmd_user, Command("user"))
    routes.message.register(cmd_ban, Command("ban"))
    routes.message.register(cmd_unban, Command("unban"))
    routes.message.register(cmd_freeze, Command("freeze"))
    routes.message.register(cmd_unfreeze, Command("unfreeze"))
    routes.message.register(on_reason_input, Banning.reason, NotCommand())
    valid = F.action.in_({"ban", "unban", "freeze", "unfreeze"}) & (F.id > 0) & (F.id < MAX_ID)
    routes.callback_query.register(cb_user, UserCB.filter(valid), IsAdminQuery())
    return routes
