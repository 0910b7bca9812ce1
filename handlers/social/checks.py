"""/check AMOUNT ASSET [ACTIVATIONS] [PASSWORD], its option buttons, /checks with Revoke, and
the claim links ``start=c<code>`` (checks) and ``start=t<code>`` (held tips)."""

from __future__ import annotations

import html
import logging
from urllib.parse import quote

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, CommandStart, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import get_asset
from core.platform.db import Database
from core.platform.params import Params
from core.social import checks, tips
from handlers.common.args import words
from handlers.common.data import shown, text_of
from handlers.common.errors import explain
from handlers.common.filters import NotCommand
from handlers.common.i18n import _, amount
from handlers.common.menu import MAX_ID, MENU, MenuCB, back_button
from handlers.common.private import private_chat_only
from handlers.common.prompts import cancel_markup, remember
from handlers.social.common import claim_link

log = logging.getLogger(__name__)
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted")


class CheckCB(CallbackData, prefix="ck"):
    action: str  # pw | new | ch | exp | ttl | rv | show
    id: int
    v: int = 0


class CheckInput(StatesGroup):
    password = State()  # the creator types a password for check ``id``
    channel = State()  # the creator types @channel for check ``id``
    claim = State()  # a claimant types the password of check ``code``


def expiry_text(c: checks.Check) -> str:
    if c.expires_at is None:
        return _("never")
    return c.expires_at.strftime("%Y-%m-%d %H:%M UTC")


def state_text(c: checks.Check) -> str:
    return {"open": _("open"), "revoked": _("revoked"), "expired": _("expired")}.get(c.state, c.state)


def check_view(c: checks.Check, bot_username: str) -> tuple[str, InlineKeyboardMarkup | None]:
    yes, no = _("on"), _("off")
    lines = [
        _("🎁 <b>Check #{id}</b>: {amount} × {count} ({used} claimed), {state}").format(
            id=c.id, amount=amount(c.amount, c.asset), count=c.activations, used=c.used, state=state_text(c)
        ),
        _("Link: {link}").format(link=claim_link(bot_username, c.payload)),
        _("Password: {value}").format(value=yes if c.has_password else no),
        _("New users only: {value}").format(value=yes if c.new_users_only else no),
        _("Members of a channel only: {value}").format(value=html.escape(c.channel) if c.channel else no),
        _("Expires: {value}").format(value=expiry_text(c)),
    ]
    if c.state != "open":
        return "\n".join(lines), None
    kb = InlineKeyboardBuilder()
    link = claim_link(bot_username, c.payload)
    kb.button(text=_("📤 Share check"), url=f"https://t.me/share/url?url={quote(link, safe='')}")
    kb.button(text=_("🔑 Password"), callback_data=CheckCB(action="pw", id=c.id))
    kb.button(
        text=_("🆕 New users only"),
        callback_data=CheckCB(action="new", id=c.id, v=0 if c.new_users_only else 1),
    )
    kb.button(text=_("📢 Channel members only"), callback_data=CheckCB(action="ch", id=c.id))
    kb.button(text=_("⏳ Expiry"), callback_data=CheckCB(action="exp", id=c.id))
    kb.button(text=_("✖️ Revoke"), callback_data=CheckCB(action="rv", id=c.id))
    kb.adjust(2)
    return "\n".join(lines), kb.as_markup()


def usage() -> str:
    return _(
        "Usage: /check AMOUNT ASSET [ACTIVATIONS] [PASSWORD]\n"
        "Example: /check 0.01 DOGE 10 — ten people can claim 0.01 DOGE each."
    )


async def cmd_check(
    message: Message, command: CommandObject, user: User, db: Database, params: Params, bot_username: str
) -> None:
    args = words(command)
    if not 2 <= len(args) <= 4:
        await message.answer(usage())
        return
    asset = get_asset(args[1])
    value = parse_amount(args[0], asset)
    count = args[2] if len(args) > 2 else "1"
    if not (count.isascii() and count.isdigit() and len(count) <= 6):
        await message.answer(usage())
        return
    password = args[3] if len(args) > 3 else None
    policy = checks.policy_for(params, asset.code)
    c = await db.write(checks.create_check, user.id, asset.code, value, int(count), policy, password=password)
    text, kb = check_view(c, bot_username)
    await message.answer(text, reply_markup=kb)


async def cmd_checks(message: Message, user: User, db: Database) -> None:
    rows = await db.read(checks.list_checks, user.id)
    text, kb = checks_list(rows)
    await message.answer(text, reply_markup=kb)


def checks_list(rows: list[checks.Check]) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    if not rows:
        kb.row(back_button())
        return _("You have no checks yet. Make one with /check AMOUNT ASSET [ACTIVATIONS]."), kb.as_markup()
    lines = [_("<b>Your checks</b>")]
    for c in rows:
        lines.append(
            _("#{id} · {amount} × {count} · claimed {used}/{count} · {state}").format(
                id=c.id,
                amount=amount(c.amount, c.asset),
                count=c.activations,
                used=c.used,
                state=state_text(c),
            )
        )
        if c.state == "open":
            kb.button(text=_("✖️ Revoke #{id}").format(id=c.id), callback_data=CheckCB(action="rv", id=c.id))
            kb.button(text=_("⚙️ #{id}").format(id=c.id), callback_data=CheckCB(action="show", id=c.id))
    kb.adjust(2)
    kb.row(back_button())
    return "\n".join(lines), kb.as_markup()


async def cb_menu(query: CallbackQuery, user: User, db: Database) -> None:
    message = shown(query)
    text, kb = checks_list(await db.read(checks.list_checks, user.id))
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_show(
    query: CallbackQuery, callback_data: CheckCB, user: User, db: Database, bot_username: str
) -> None:
    message = shown(query)
    c = await db.read(checks.get_check, user.id, callback_data.id)
    text, kb = check_view(c, bot_username)
    await message.answer(text, reply_markup=kb)
    await query.answer()


async def cb_revoke(query: CallbackQuery, callback_data: CheckCB, user: User, db: Database) -> None:
    message = shown(query)
    c, left = await db.write(checks.revoke_check, user.id, callback_data.id)
    await query.answer()
    await message.answer(
        _("Check #{id} revoked: {amount} is back in your balance.").format(
            id=c.id, amount=amount(left, c.asset)
        )
    )


async def cb_new_only(
    query: CallbackQuery, callback_data: CheckCB, user: User, db: Database, bot_username: str
) -> None:
    message = shown(query)
    c = await db.write(checks.configure, user.id, callback_data.id, new_users_only=bool(callback_data.v))
    text, kb = check_view(c, bot_username)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_expiry(query: CallbackQuery, callback_data: CheckCB, user: User, db: Database) -> None:
    message = shown(query)
    await db.read(checks.get_check, user.id, callback_data.id)  # someone else's check: refused here
    kb = InlineKeyboardBuilder()
    names = {3600: _("1 hour"), 86400: _("1 day"), 7 * 86400: _("7 days"), 30 * 86400: _("30 days")}
    for seconds in checks.EXPIRIES:
        kb.button(text=names[seconds], callback_data=CheckCB(action="ttl", id=callback_data.id, v=seconds))
    kb.button(text=_("Never"), callback_data=CheckCB(action="ttl", id=callback_data.id, v=0))
    kb.adjust(3)
    await message.answer(
        _("When should check #{id} expire?").format(id=callback_data.id), reply_markup=kb.as_markup()
    )
    await query.answer()


async def cb_ttl(
    query: CallbackQuery, callback_data: CheckCB, user: User, db: Database, bot_username: str
) -> None:
    message = shown(query)
    c = await db.write(checks.configure, user.id, callback_data.id, expires_in=callback_data.v)
    text, kb = check_view(c, bot_username)
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_ask(
    query: CallbackQuery, callback_data: CheckCB, user: User, db: Database, state: FSMContext
) -> None:
    message = shown(query)
    await db.read(checks.get_check, user.id, callback_data.id)
    if callback_data.action == "pw":
        await state.set_state(CheckInput.password)
        prompt = await message.answer(
            _("Send the password for check #{id} (or “off” to remove it).").format(id=callback_data.id),
            reply_markup=cancel_markup(),
        )
    else:
        await state.set_state(CheckInput.channel)
        prompt = await message.answer(
            _(
                "Send the @channel whose members only may claim check #{id} (or “off”). I must be an admin there."
            ).format(id=callback_data.id),
            reply_markup=cancel_markup(),
        )
    await state.set_data({"id": callback_data.id})
    await remember(state, prompt)  # its ✖️ Cancel ends the wait (handlers.common.prompts)
    await query.answer()


async def on_password_input(
    message: Message, state: FSMContext, user: User, db: Database, bot_username: str
) -> None:
    check_id = int((await state.get_data())["id"])
    await state.clear()
    text = text_of(message).strip()
    if text.lower() == "off":
        c = await db.write(checks.configure, user.id, check_id, clear_password=True)
    else:
        c = await db.write(checks.configure, user.id, check_id, password=text)
    view, kb = check_view(c, bot_username)
    await message.answer(view, reply_markup=kb)


async def on_channel_input(
    message: Message, state: FSMContext, user: User, db: Database, bot: Bot, bot_username: str
) -> None:
    check_id = int((await state.get_data())["id"])
    await state.clear()
    channel = text_of(message).strip()
    if channel.lower() == "off":
        c = await db.write(checks.configure, user.id, check_id, clear_channel=True)
    else:
        if checks.CHANNEL_RE.fullmatch(channel) is None:
            raise checks.CheckError("check_bad_channel")
        if not await bot_is_admin(bot, channel):
            raise checks.CheckError("check_not_admin", channel=channel)
        c = await db.write(checks.configure, user.id, check_id, channel=channel)
    view, kb = check_view(c, bot_username)
    await message.answer(view, reply_markup=kb)


async def bot_is_admin(bot: Bot, channel: str) -> bool:
    try:
        member = await bot.get_chat_member(channel, bot.id)
    except TelegramAPIError:
        return False
    return member.status in ("creator", "administrator")


async def is_member(bot: Bot, channel: str, user_id: int) -> bool:
    """getChatMember: outside any transaction. Unknown channel or a Telegram error: not a member."""
    try:
        member = await bot.get_chat_member(channel, user_id)
    except TelegramAPIError:
        log.info("getChatMember %s failed", channel, exc_info=True)
        return False
    if member.status == "restricted":
        return bool(getattr(member, "is_member", False))
    return member.status in MEMBER_STATUSES


_BALANCE = MenuCB(to="balance").pack()


def after_claim() -> InlineKeyboardMarkup:
    """Balance and the menu: two buttons made directly (the full menu's builder costs
    milliseconds of copying per reply, and a claim link is a hot path)."""
    label = str(dict(MENU)["balance"])
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=_BALANCE), back_button()]]
    )


class ClaimLink(Filter):
    """/start c<code> or t<code> (async: no worker-thread hop on the hot claim path)."""

    async def __call__(self, message: Message) -> bool | dict[str, str]:
        parts = (message.text or "").split()
        if len(parts) != 2 or parts[0] != "/start":
            return False
        payload = parts[1]
        if len(payload) == 17 and payload[0] in "ct" and checks.CODE_RE.fullmatch(payload[1:]):
            return {"payload": payload}
        return False


def claimed_text(got: checks.Claimed) -> str:
    return _("🎉 You claimed {amount} from a check! See /balance.").format(
        amount=amount(got.amount, got.check.asset)
    )


async def claim(
    message: Message, user: User, db: Database, params: Params, bot: Bot, code: str, password: str | None
) -> None:
    c = await db.read(checks.find, code)
    member = await is_member(bot, c.channel, user.id) if c.channel else None
    got = await db.write(
        checks.claim_check, user.id, code, checks.claim_policy(params), password=password, member=member
    )
    await message.answer(claimed_text(got), reply_markup=after_claim())


async def cmd_start_link(
    message: Message, payload: str, user: User, db: Database, params: Params, bot: Bot, state: FSMContext
) -> None:
    await state.clear()
    code = payload[1:]
    if payload[0] == "t":
        await db.write(checks.record_start, user.id, payload)
        t = await db.write(tips.claim_tip, user.id, code)
        await message.answer(
            _("🎉 You claimed a tip of {amount}! See /balance.").format(amount=amount(t.amount, t.asset)),
            reply_markup=after_claim(),
        )
        return
    got = await db.write(checks.start_and_claim, user.id, code, checks.claim_policy(params))
    if isinstance(got, checks.Claimed):
        await message.answer(claimed_text(got), reply_markup=after_claim())
    elif got.reason == "check_password_needed":
        await state.set_state(CheckInput.claim)
        await state.set_data({"code": code})
        prompt = await message.answer(
            _("This check is protected by a password. Send the password."), reply_markup=cancel_markup()
        )
        await remember(state, prompt)
    elif got.reason == "check_members_only":
        await claim(message, user, db, params, bot, code, None)
    else:
        await message.answer(explain(got, as_html=True), reply_markup=after_claim())


async def on_claim_password(
    message: Message, state: FSMContext, user: User, db: Database, params: Params, bot: Bot
) -> None:
    code = str((await state.get_data())["code"])
    await state.clear()
    await claim(message, user, db, params, bot, code, text_of(message).strip())


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_start_link, CommandStart(deep_link=True), ClaimLink())
    routes.message.register(cmd_check, Command("check"))
    routes.message.register(cmd_checks, Command("checks"))
    routes.message.register(on_password_input, CheckInput.password, NotCommand())
    routes.message.register(on_channel_input, CheckInput.channel, NotCommand())
    routes.message.register(on_claim_password, CheckInput.claim, NotCommand())
    ids = (F.id > 0) & (F.id < MAX_ID)
    routes.callback_query.register(cb_menu, MenuCB.filter(F.to == "checks"))
    routes.callback_query.register(cb_show, CheckCB.filter((F.action == "show") & ids))
    routes.callback_query.register(cb_revoke, CheckCB.filter((F.action == "rv") & ids))
    routes.callback_query.register(cb_new_only, CheckCB.filter((F.action == "new") & ids & F.v.in_({0, 1})))
    routes.callback_query.register(cb_expiry, CheckCB.filter((F.action == "exp") & ids))
    routes.callback_query.register(cb_ttl, CheckCB.filter((F.action == "ttl") & ids))
    routes.callback_query.register(cb_ask, CheckCB.filter(F.action.in_({"pw", "ch"}) & ids))
    return routes
