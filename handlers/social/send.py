"""/send AMOUNT ASSET @username|id: a quote that names the recipient, then Confirm (with the
2FA code above ``send.twofa_over.<ASSET>`` when 2FA is on)."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.config import Settings
from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import get_asset
from core.platform.db import Database
from core.platform.params import Params
from core.social import sends
from handlers.common.args import words
from handlers.common.data import shown
from handlers.common.i18n import _, amount
from handlers.common.menu import MAX_ID
from handlers.common.private import private_chat_only
from handlers.security.twofa import ask_code, guarded, on_code
from handlers.social.common import user_name


class SendCB(CallbackData, prefix="sd"):
    action: str  # ok | no
    id: int


def usage() -> str:
    return _(
        "Usage: /send AMOUNT ASSET @username (or a numeric Telegram id)\nExample: /send 0.001 DOGE @alice"
    )


async def cmd_send(
    message: Message, command: CommandObject, user: User, db: Database, params: Params, bot: Bot
) -> None:
    args = words(command)
    if len(args) != 3:
        await message.answer(usage())
        return
    asset = get_asset(args[1])
    value = parse_amount(args[0], asset)
    policy = sends.policy_for(params, asset.code)
    s = await db.write(sends.quote_send, user.id, args[2], asset.code, value, policy, bot_id=bot.id)
    text = _("Send <b>{amount}</b> to {name}?").format(
        amount=amount(s.amount, s.asset), name=user_name(s.recipient)
    )
    if s.needs_code:
        text += "\n" + _("Your 2FA code will be needed.")
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Confirm"), callback_data=SendCB(action="ok", id=s.id))
    kb.button(text=_("✖️ Cancel"), callback_data=SendCB(action="no", id=s.id))
    await message.answer(text, reply_markup=kb.as_markup())


async def confirm(
    message: Message, user: User, sid: int, code: str | None, db: Database, settings: Settings, params: Params
):
    s = await guarded(
        db,
        user.id,
        sends.confirm_send,
        user.id,
        sid,
        code=code,
        secret_key=settings.secret_key,
        policy_of=partial(sends.policy_for, params),
    )
    if s.replayed:
        await message.answer(_("That transfer was already sent."))
        return
    await message.answer(
        _("✅ Sent {amount} to {name}.").format(amount=amount(s.amount, s.asset), name=user_name(s.recipient))
    )


async def cb_confirm(
    query: CallbackQuery,
    callback_data: SendCB,
    user: User,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext,
) -> None:
    message = shown(query)
    sid = callback_data.id
    if await db.read(sends.needs_code, user.id, sid, partial(sends.policy_for, params)):
        await ask_code(message, state, "send", id=sid)
    else:
        await confirm(message, user, sid, None, db, settings, params)
    await query.answer()


@on_code("send")
async def confirm_with_code(
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
    await confirm(message, user, int(data["id"]), code, db, settings, params)


async def cb_cancel(query: CallbackQuery, callback_data: SendCB, user: User, db: Database) -> None:
    message = shown(query)
    await db.write(sends.cancel_send, user.id, callback_data.id)
    await query.answer()
    await message.edit_text(_("Cancelled. Nothing was sent."))


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_send, Command("send"))
    routes.callback_query.register(
        cb_confirm, SendCB.filter((F.action == "ok") & (F.id > 0) & (F.id < MAX_ID))
    )
    routes.callback_query.register(
        cb_cancel, SendCB.filter((F.action == "no") & (F.id > 0) & (F.id < MAX_ID))
    )
    return routes
