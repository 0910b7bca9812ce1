"""The values handlers receive by name, typed once.

aiogram hands a handler every value of the dispatcher's workflow data and of the update's
middleware data whose name is one of its parameters. ``HandlerData`` says what each name
holds; ``build_dispatcher()`` fills ``Shared`` through ``shared(dp)``, the outer middlewares
fill ``PerUpdate``, and a test (tests/handlers/common/test_data.py) checks that every
handler's parameter of one of these names is annotated with exactly this type, so mypy
checks the handlers' bodies against what they really get.

``shown(query)`` is the message a button was tapped on, typed: Telegram sends an
"inaccessible message" for one older than 48 hours, which cannot be edited or read.
"""

# No `from __future__ import annotations` here: TypedDict reads NotRequired[...] only from
# evaluated annotations (Python 3.11), and tests read these types at run time.
from typing import NotRequired, Protocol, TypedDict, cast

from aiogram import Bot, Dispatcher
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, Update

from core.config import Settings
from core.errors import DomainError
from core.identity.users import User
from core.platform.db import Database
from core.platform.params import Params
from handlers.common.i18n import I18n
from handlers.middlewares import InFlight, Members

AdminIds = frozenset[int]


class CrashRunner(Protocol):
    """What handlers may ask of jobs.crash.CrashRunner (jobs never import handlers; this is the edge)."""

    async def poke(self, timeout: float = ...) -> None: ...  # float ok: seconds


class Shared(TypedDict):
    """Set once per dispatcher: by build_dispatcher(), and by bot.py once the bot is known."""

    db: Database
    params: Params
    settings: Settings
    admin_ids: AdminIds
    in_flight: InFlight
    bot_username: NotRequired[str]  # bot.py (getMe); handlers.common.private asks Telegram without it
    crash_runner: NotRequired[CrashRunner]  # bot.py; absent where no runner plays rounds


class PerUpdate(TypedDict):
    """Set for every update by the outer middlewares (handlers.middlewares, handlers.common.i18n)."""

    user: User
    members: Members
    i18n: I18n
    locale: str


class Aiogram(TypedDict):
    """aiogram's own, for every update."""

    bot: Bot
    state: FSMContext
    dispatcher: Dispatcher
    event_update: Update


class HandlerData(Shared, PerUpdate, Aiogram):
    """Everything a handler may take by name (besides the event, ``command`` and ``callback_data``)."""


def shared(dp: Dispatcher) -> Shared:
    """The dispatcher's workflow data, typed: ``shared(dp)["bot_username"] = me.username``."""
    return cast(Shared, dp.workflow_data)


class StaleButton(DomainError):
    """A tap on a message Telegram no longer lets the bot see (older than 48 hours)."""

    reason = "stale_button"


def shown(query: CallbackQuery) -> Message:
    """The message the tapped button is on; a stale one is refused before anything is done."""
    message = query.message
    if not isinstance(message, Message):
        raise StaleButton()
    return message


def sender_id(message: Message) -> int:
    """Who sent ``message``: a person (handlers.middlewares.People lets no one else through)."""
    assert message.from_user is not None, "People lets only messages with a sender through"
    return message.from_user.id


def text_of(message: Message) -> str:
    """What a person typed (an empty string for a photo, a sticker...)."""
    return message.text or ""
