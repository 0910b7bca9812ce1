"""``build_dispatcher()``: the production Dispatcher, importable by tests. No I/O here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

from core.config import Settings
from core.platform.db import Database
from core.platform.params import Params
from handlers import get_routers
from handlers.admin.codes import AdminCodes
from handlers.common.data import Shared, shared
from handlers.common.i18n import LocaleMiddleware, get_i18n
from handlers.common.private import PrivateOnly
from handlers.common.prompts import LeavePrompt
from handlers.common.taps import AnswerEveryTap, outermost
from handlers.middlewares import InFlight, Members, People, Throttle
from handlers.routing import CallbackIndex

if TYPE_CHECKING:
    from redis.asyncio import Redis


def build_dispatcher(
    settings: Settings,
    db: Database,
    *,
    params: Params | None = None,
    storage: BaseStorage | None = None,
    redis: Redis | None = None,
    throttle: Throttle | None = None,
) -> Dispatcher:
    """Wire routers, middlewares and shared objects. Handlers receive by name what
    handlers.common.data.HandlerData lists: ``db``, ``params``, ``settings``, ``admin_ids``,
    ``in_flight`` from here, ``user``, ``members``, ``i18n``, ``locale`` from the middlewares."""
    params = params or Params()
    dp = Dispatcher(storage=storage or MemoryStorage(), name="dustpan")
    outermost(dp, AnswerEveryTap())  # outside the error router: a failed tap is answered too
    in_flight = InFlight()
    dp.update.outer_middleware(in_flight)
    dp.update.outer_middleware(People())
    dp.update.outer_middleware(Members(db, params))
    dp.update.outer_middleware(LocaleMiddleware(get_i18n()))
    dp.update.outer_middleware(throttle or Throttle(redis=redis, params=params))
    dp.message.outer_middleware(LeavePrompt())  # a command typed during a prompt ends it
    dp.message.middleware(PrivateOnly())  # handlers marked @private (handlers.common.private)
    dp.callback_query.middleware(PrivateOnly())
    dp.message.middleware(AdminCodes())  # the 2FA code for admin commands that change things
    index = CallbackIndex()
    index.include_routers(*get_routers())
    dp.include_router(index)
    shared(dp).update(
        Shared(db=db, params=params, settings=settings, admin_ids=settings.admin_ids, in_flight=in_flight)
    )
    return dp
