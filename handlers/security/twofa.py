"""/2fa: turn TOTP two-factor authentication on or off, and ask for a code before guarded actions.

Other features call ``code_or_run(db, user_id, message, state, purpose, run, **data)`` (or
``ask_code``) and register what to do with the code under ``purpose`` (``on_code(purpose)``). The message with the
code is deleted where Telegram allows (text that does not look like a code is left alone and
answered with what the bot waits for). A wrong code stays counted though the action is undone,
and the action keeps waiting for the right code (saying how many tries are left) until the
failure limit or ``PROMPT_TTL``; ✖️ Cancel or any command ends the wait (handlers.common.prompts).
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.config import Settings
from core.identity import totp, twofa
from core.identity.users import User
from core.platform.db import Database
from core.platform.params import Params
from handlers.common import errors
from handlers.common.data import shown, text_of
from handlers.common.filters import NotCommand
from handlers.common.i18n import _, __
from handlers.common.menu import MenuCB, back_button, back_to_menu
from handlers.common.private import private_chat_only
from handlers.common.prompts import cancel_markup, leave, remember

log = logging.getLogger(__name__)

errors.register("twofa_required", __("This needs your 2FA code. Please start again and send the code."))
errors.register("twofa_wrong_code", __("That code is wrong, expired or already used. Nothing was changed."))
errors.register(
    "twofa_code_used",
    __(
        "That code is wrong, expired or already used. Nothing was changed. A code works once: "
        "if you just used it, wait {wait} s for the next one."
    ),
)
errors.register(
    "twofa_locked", __("Too many wrong codes. 2FA actions are locked until {until}. Nothing was changed.")
)
errors.register("twofa_already_on", __("Two-factor authentication is already on."))
errors.register("twofa_not_on", __("Two-factor authentication is off."))
errors.register("twofa_not_started", __("Send /2fa first to set up two-factor authentication."))
errors.register("undecryptable_secret", __("Your 2FA secret cannot be read. Please contact support."))


class TwoFA(StatesGroup):
    confirm = State()  # setup: waiting for the first code
    code = State()  # a guarded action waits for a code


class TwoFaCB(CallbackData, prefix="2fa"):
    action: str


PROMPT_TTL = 600  # seconds a guarded action waits for its code


def looks_like_code(text: str, *, backup: bool = True) -> bool:
    """A TOTP code (6 digits, spaces allowed) or, with ``backup``, a backup code."""
    return totp.normalise_code(text) is not None or (backup and totp.normalise_backup_code(text) is not None)


def waiting_text() -> str:
    return _(
        "I am waiting for your 2FA code: the 6 digits your authenticator app shows for Dustpan "
        "(or a backup code). Send it, or tap Cancel."
    )


async def tell_waiting(message: Message, state: FSMContext, text: str) -> None:
    """Answer while a prompt still waits: ``text`` with Cancel (now the prompt's live button)."""
    await remember(state, await message.answer(text, reply_markup=cancel_markup()))


async def tell_wrong_code(
    message: Message, state: FSMContext, error: twofa.TwoFactorFailed, user_id: int, db, params
) -> None:
    """A refused code while the action still waits: why, how many tries are left, and Cancel."""
    if isinstance(error, twofa.TwoFactorReplayed):
        text = errors.explain(error, as_html=True)
    else:
        max_failures = params.get("twofa.max_failures")
        left = await db.read(twofa.tries_left, user_id, max_failures=max_failures)
        if left == 0:  # locked now: the action stops waiting, and the error router says until when
            if message.bot is not None:
                await leave(state, message.bot, message.chat.id)
            await db.read(twofa.check_lock, user_id, max_failures=max_failures)
        text = _("That code is wrong. Nothing was changed.") + " " + tries_left_text(left)
    await tell_waiting(message, state, text)


def tries_left_text(left: int) -> str:
    if left == 1:
        return _("1 try left before 2FA actions lock for 24 hours. Send the right code, or tap Cancel.")
    return _(
        "Tries left before 2FA actions lock for 24 hours: {left}. Send the right code, or tap Cancel."
    ).format(left=left)


CodeHandler = Callable[..., Awaitable[None]]
_PURPOSES: dict[str, CodeHandler] = {}


def on_code(purpose: str):
    """Register ``async fn(message, code, data, **deps)`` to run when a code for ``purpose`` arrives."""

    def wrap(fn: CodeHandler) -> CodeHandler:
        _PURPOSES[purpose] = fn
        return fn

    return wrap


async def guarded(db: Database, user_id: int, fn, *args, **kwargs):
    """``db.write(fn, ...)`` for a use case that checks ``user_id``'s code: a wrong code is
    counted in the same transaction that undoes the action (core.identity.twofa.counting_failures)."""
    outcome = await db.write(twofa.counting_failures, user_id, fn, *args, **kwargs)
    if isinstance(outcome, twofa.Refused):
        raise outcome.error
    return outcome


async def with_code(
    db: Database,
    user_id: int,
    code: str | None,
    settings: Settings,
    params: Params,
    fn: Any,
    /,
    **kwargs: Any,
) -> Any:
    """Run the use case ``fn(conn, **kwargs)`` after ``user_id``'s code (when 2FA is on) is checked
    in the same transaction, a wrong one counted (``guarded``): the gate of admin buttons."""
    return await guarded(
        db,
        user_id,
        twofa.guarded_call,
        user_id,
        code,
        settings.secret_key,
        params.get("twofa.max_failures"),
        fn,
        **kwargs,
    )


async def ask_code(
    message: Message, state: FSMContext, purpose: str, *, confirming: str | None = None, **data
) -> None:
    """Wait for a code for ``purpose``; ``confirming`` says what the code will do (so an admin
    sees which command a code confirms, even one someone else sent from their session)."""
    await state.set_state(TwoFA.code)
    await state.set_data({"purpose": purpose, "asked": int(time.time()), **data})
    text = _("Send the 6-digit code from your authenticator app (or a backup code).")
    if confirming:
        text += "\n" + _("It confirms: {action}").format(action=f"<code>{html.escape(confirming)}</code>")
    await remember(state, await message.answer(text, reply_markup=cancel_markup()))


async def code_or_run(
    db: Database,
    user_id: int,
    message: Message,
    state: FSMContext,
    purpose: str,
    run: Callable[[], Awaitable[None]],
    *,
    confirming: str | None = None,
    **data,
) -> None:
    """A guarded action: with 2FA on for ``user_id``, ask for a code (the handler registered
    for ``purpose`` then gets it with ``data``); with 2FA off, ``await run()`` at once."""
    if await db.read(twofa.is_enabled, user_id):
        await ask_code(message, state, purpose, confirming=confirming, **data)
    else:
        await run()


async def delete_quietly(message: Message) -> None:
    try:
        await message.delete()
    except Exception:  # too old, or in a chat where we may not: the code is single-use anyway
        log.debug("could not delete a message with a code")


def status_view(enabled: bool) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    if enabled:
        text = _(
            "Two-factor authentication is <b>on</b>. Withdrawals, address changes and disabling it need a code."
        )
        kb.button(text=_("Turn 2FA off"), callback_data=TwoFaCB(action="off"))
    else:
        text = _("Two-factor authentication is <b>off</b>. Turn it on to protect withdrawals.")
        kb.button(text=_("Turn 2FA on"), callback_data=TwoFaCB(action="on"))
    kb.row(back_button())
    return text, kb.as_markup()


async def cmd_2fa(message: Message, user: User, db: Database) -> None:
    """The same on/off screen as the menu's; setup starts only from its button."""
    text, kb = status_view(await db.read(twofa.is_enabled, user.id))
    await message.answer(text, reply_markup=kb)


async def cb_menu(query: CallbackQuery, user: User, db: Database) -> None:
    message = shown(query)
    text, kb = status_view(await db.read(twofa.is_enabled, user.id))
    await message.edit_text(text, reply_markup=kb)
    await query.answer()


async def cb_on(
    query: CallbackQuery, user: User, db: Database, settings: Settings, state: FSMContext, bot: Bot
):
    await start_setup(user, db, settings, state, bot)
    await query.answer()


async def start_setup(user: User, db: Database, settings: Settings, state: FSMContext, bot: Bot) -> None:
    """Send the secret as a QR code and as text; 2FA turns on once a code from it arrives."""
    name = f"@{user.username}" if user.username else str(user.id)
    setup = await db.write(twofa.begin_setup, user.id, settings.secret_key, name)
    photo = BufferedInputFile(totp.qr_png(setup.uri), filename="2fa.png")
    caption = _(
        "Scan this QR code with an authenticator app, or enter this key by hand:\n<code>{secret}</code>\n"
        "Setup link: <code>{uri}</code>\n\n"
        "Then send me the 6-digit code the app shows."
    ).format(secret=setup.secret, uri=html.escape(setup.uri))
    await state.set_state(TwoFA.confirm)
    await state.set_data({})
    shown = await bot.send_photo(user.id, photo, caption=caption, reply_markup=cancel_markup())
    await state.update_data(qr_message=shown.message_id)
    await remember(state, shown, delete_on_leave=True)  # the secret leaves the chat with the prompt


async def on_confirm_input(
    message: Message,
    user: User,
    db: Database,
    settings: Settings,
    params: Params,
    state: FSMContext,
    bot: Bot,
) -> None:
    text = text_of(message)
    if not looks_like_code(text, backup=False):  # not a code: kept, and told what we wait for
        await tell_waiting(message, state, waiting_text())
        return
    await delete_quietly(message)
    try:
        codes = await guarded(
            db,
            user.id,
            twofa.confirm_setup,
            user.id,
            text,
            settings.secret_key,
            max_failures=params.get("twofa.max_failures"),
        )
    except twofa.TwoFactorFailed as error:  # setup goes on waiting for a right code
        await tell_wrong_code(message, state, error, user.id, db, params)
        return
    await forget_qr(bot, message.chat.id, state)
    await message.answer(backup_codes_text(codes))


async def forget_qr(bot: Bot, chat_id: int, state: FSMContext) -> None:
    """The secret is in the app now: take its QR code out of the chat history, and end the setup."""
    qr_message = (await state.get_data()).get("qr_message")
    await state.clear()
    if qr_message:
        try:
            await bot.delete_message(chat_id, qr_message)
        except Exception:
            log.debug("could not delete the QR message")


def backup_codes_text(codes: list[str]) -> str:
    listing = "\n".join(f"<code>{html.escape(c)}</code>" for c in codes)
    return _(
        "Two-factor authentication is on. Keep these one-time backup codes somewhere safe; "
        "each works once instead of a code, and they will not be shown again:\n{codes}"
    ).format(codes=listing)


async def cb_off(query: CallbackQuery, state: FSMContext) -> None:
    message = shown(query)
    await ask_code(message, state, "twofa_off")
    await query.answer()


@on_code("twofa_off")
async def off_with_code(
    message: Message,
    code: str,
    data: dict[str, Any],
    *,
    db: Database,
    user: User,
    settings: Settings,
    params: Params,
    **_deps: Any,
) -> None:
    await guarded(
        db,
        user.id,
        twofa.disable,
        user.id,
        code,
        settings.secret_key,
        max_failures=params.get("twofa.max_failures"),
        session=params.get("twofa.session"),
    )
    await message.answer(_("Two-factor authentication is off."), reply_markup=back_to_menu())


async def on_code_input(
    message: Message, state: FSMContext, user: User, db: Database, params: Params, **deps
) -> None:
    """The code a guarded action waits for. A wrong one leaves the action waiting."""
    text = text_of(message)
    if not looks_like_code(text):  # not a code, so not a guess: kept, and told what we wait for
        await tell_waiting(message, state, waiting_text())
        return
    await delete_quietly(message)
    waiting = await state.get_data()
    data = dict(waiting)
    await state.clear()
    handler = _PURPOSES.get(data.pop("purpose", ""))
    if handler is None:
        return
    if time.time() - data.pop("asked", 0) > PROMPT_TTL:
        await message.answer(
            _("That request waited too long and expired. Nothing was changed; please start again."),
            reply_markup=back_to_menu(),
        )
        return
    data.pop("prompt", None)
    try:
        await handler(message, text, data, state=state, user=user, db=db, params=params, **deps)
    except twofa.TwoFactorFailed as error:
        if await state.get_state() is not None:  # the handler started another prompt
            raise
        await keep_waiting(message, state, error, user.id, db, params, waiting)


async def keep_waiting(
    message: Message,
    state: FSMContext,
    error: twofa.TwoFactorFailed,
    user_id: int,
    db: Database,
    params: Params,
    waiting: dict[str, Any],
) -> None:
    """A refused code: the action (``waiting``, the prompt's data) goes on waiting for the right one."""
    await state.set_state(TwoFA.code)
    await state.set_data(waiting)
    await tell_wrong_code(message, state, error, user_id, db, params)


def router() -> Router:
    routes = private_chat_only(Router(name=__name__))
    routes.message.register(cmd_2fa, Command("2fa"))
    routes.callback_query.register(cb_menu, MenuCB.filter(F.to == "twofa"))
    routes.callback_query.register(cb_on, TwoFaCB.filter(F.action == "on"))
    routes.message.register(on_confirm_input, TwoFA.confirm, NotCommand())
    routes.callback_query.register(cb_off, TwoFaCB.filter(F.action == "off"))
    routes.message.register(on_code_input, TwoFA.code, NotCommand())
    return routes
