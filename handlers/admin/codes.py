"""Admin commands that move money, change a setting or settle payouts need the admin's 2FA code.

Every admin command (``handlers.common.commands.ADMIN``) is guarded except those in READ_ONLY, which
only show; so a new admin command is guarded unless someone decides here that it only reads.
``AdminCodes`` (an inner middleware of the dispatcher) does it for all of them alike:

* 2FA off: the command runs at once (``/admin`` reminds the admin to turn 2FA on).
* 2FA on: the bot asks for the code, or takes it typed after the command
  (``/deposit 1 BTC top-up code 123456``; the message is then deleted). When the code arrives,
  the sender must still be an admin in a private chat (``ADMIN_IDS`` may have changed), and the
  command runs as first typed.
* Either way the command's first database write checks the code in its own transaction
  (``CodeCheckedDb``, core.identity.twofa.require): a wrong code changes nothing and counts as a failure,
  2FA turned on meanwhile asks for a code, and a command refused for another reason (not enough
  funds, a bad salt) leaves the code unused.

The payout buttons (Approve, Reject in handlers.cashout.payouts) take the code in their own transaction
the same way and re-check the admin with ``still_admin``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.types import Message, MessageEntity, TelegramObject, Update
from sqlalchemy import Connection

from core.identity import twofa
from core.platform.db import Database
from handlers.common.commands import ADMIN
from handlers.common.data import AdminIds, sender_id
from handlers.common.i18n import _
from handlers.middlewares import Next
from handlers.security.twofa import ask_code, delete_quietly, guarded, keep_waiting, on_code

READ_ONLY = frozenset({"admin", "params", "audit", "payouts", "review", "rates", "user"})
PURPOSE = "admin_command"
_RESUMED = "admin_code_resumed"  # workflow data of a command re-run with the code that arrived


# Words that are secrets, by (command, first argument) -> their index among the arguments: the
# code prompt never echoes them (/offerwall add NETWORK NAME APP_ID SECRET ASSET RATE).
SECRET_WORDS: dict[tuple[str, str], int] = {("offerwall", "add"): 4}


def redacted(command: str, args: str) -> str:
    """``/command args`` as the code prompt may show it: secret words replaced by •••."""
    words = args.split()
    at = SECRET_WORDS.get((command, words[0].lower())) if words else None
    if at is not None and at < len(words):
        words[at] = "•••"
    return f"/{command} {' '.join(words)}".strip()


# Public commands with admin subcommands: guarded only when their first word is one of these.
MIXED: dict[str, frozenset[str]] = {"reserves": frozenset({"add", "set"}), "rates": frozenset({"set"})}


def guarded_commands() -> frozenset[str]:
    return frozenset(name for name, _text in ADMIN) - READ_ONLY


def needs_code(name: str, args: str | None) -> bool:
    name = name.lower()
    if name in MIXED:
        first = (args or "").split(maxsplit=1)
        return bool(first) and first[0].lower() in MIXED[name]
    return name in guarded_commands()


def split_code(args: str) -> tuple[str, str | None]:
    """'1 BTC welcome gift code 123456' -> ('1 BTC welcome gift', '123456'): a trailing 2FA code."""
    words = args.split()
    if len(words) >= 2 and words[-2].lower() == "code":
        return " ".join(words[:-2]), words[-1]
    return args.strip(), None


async def still_admin(message: Message, admin_ids: frozenset[int]) -> bool:
    """For a handler that receives a code: is its sender (still) an admin, in a private chat?
    If not, says so; nothing is done with the code."""
    if message.from_user is not None and message.from_user.id in admin_ids and message.chat.type == "private":
        return True
    await message.answer(_("Only admins can do that. Nothing was changed."))
    return False


def _with_code(conn: Connection, admin_id: int, code, secret_key: str, max_failures: int, fn, args, kwargs):
    twofa.require(conn, admin_id, code, secret_key, max_failures=max_failures)
    return fn(conn, *args, **kwargs)


class CodeCheckedDb:
    """The ``db`` a guarded command sees: its first write also checks the admin's code, in
    the same transaction (a wrong one is then counted by handlers.security.twofa.guarded). Reads, and
    writes after the first, go straight to the database."""

    def __init__(self, db: Database, admin_id: int, code: str | None, secret_key: str, max_failures: int):
        self._db, self._admin_id, self._code = db, admin_id, code
        self._secret_key, self._max_failures = secret_key, max_failures
        self._checked = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    async def read(self, fn, *args, **kwargs):
        return await self._db.read(fn, *args, **kwargs)

    async def write(self, fn, *args, **kwargs):
        if self._checked:
            return await self._db.write(fn, *args, **kwargs)
        result = await guarded(
            self._db,
            self._admin_id,
            _with_code,
            self._admin_id,
            self._code,
            self._secret_key,
            self._max_failures,
            fn,
            args,
            kwargs,
        )
        self._checked = True
        return result


class AdminCodes(BaseMiddleware):
    """Inner middleware for messages: the 2FA gate of every guarded admin command."""

    async def __call__(self, handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        command = data.get("command")
        if command is None or not needs_code(command.command, command.args):
            return await handler(event, data)
        if command.command.lower() in MIXED and data["user"].id not in data["admin_ids"]:
            return await handler(event, data)  # a user's /reserves add ... only shows the reserves
        assert isinstance(event, Message)  # a command is a message
        admin_id = data["user"].id
        args, code = split_code(command.args or "")
        if code is not None:
            await delete_quietly(event)
        data["command"] = replace(command, args=args or None)
        resumed = data.get(_RESUMED)
        from_prompt = resumed is not None and resumed[:2] == (admin_id, event.message_id)
        if resumed is not None and from_prompt:
            code = resumed[2]
        db = data["db"]
        typed = f"/{command.command.lower()} {args}".strip()
        if code is None and await db.read(twofa.is_enabled, admin_id):
            shown = redacted(command.command.lower(), args)  # an offerwall secret is never echoed
            await ask_code(
                event, data["state"], PURPOSE, confirming=shown, command=typed, message_id=event.message_id
            )
            return None
        params = data["params"]
        data["db"] = CodeCheckedDb(
            db, admin_id, code, data["settings"].secret_key, params.get("twofa.max_failures")
        )
        if not from_prompt:
            return await handler(event, data)
        try:
            return await handler(event, data)
        except twofa.TwoFactorFailed as error:  # a mistyped code: the command keeps waiting for the right one
            waiting = {
                "purpose": PURPOSE,
                "asked": int(time.time()),
                "command": typed,
                "message_id": event.message_id,
            }
            await keep_waiting(event, data["state"], error, admin_id, db, params, waiting)
            return None


@on_code(PURPOSE)
async def command_with_code(
    message: Message,
    code: str,
    data: dict[str, Any],
    *,
    admin_ids: AdminIds,
    dispatcher: Dispatcher,
    bot: Bot,
    event_update: Update,
    **_deps: Any,
) -> None:
    """The code for a guarded command arrived: run the command again, as typed, with it."""
    if not await still_admin(message, admin_ids):
        return
    text = str(data["command"])
    again = Message(
        message_id=int(data["message_id"]),
        date=datetime.now(UTC),
        chat=message.chat,
        from_user=message.from_user,
        text=text,
        entities=[MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))],
    )
    resumed = (sender_id(message), again.message_id, code)
    await dispatcher.feed_update(
        bot, Update(update_id=event_update.update_id, message=again), **{_RESUMED: resumed}
    )
