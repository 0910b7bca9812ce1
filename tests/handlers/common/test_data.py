"""The values handlers receive by name are typed once (handlers.common.data.HandlerData), and
every handler, filter and 2FA continuation that takes one by that name says so with that type."""

from __future__ import annotations

import inspect
import typing

from aiogram import Router
from aiogram.filters import Filter

from handlers import get_routers
from handlers.common.data import HandlerData, Shared, StaleButton, shared, shown
from handlers.security import twofa
from tests.handlers.harness import texts

EXPECTED = typing.get_type_hints(HandlerData)


def _routers(routers: list[Router]):
    for router in routers:
        yield router
        yield from _routers(router.sub_routers)


def receivers():
    """Every callable aiogram (or a 2FA continuation) calls with values by name."""
    for router in _routers(get_routers()):
        for observer in router.observers.values():
            for handler in [*observer.handlers, observer._handler]:
                if handler.callback is not None and handler is not observer._handler:
                    yield handler.callback
                for f in handler.filters or ():
                    if isinstance(f.callback, Filter) and type(f.callback).__module__.startswith("handlers."):
                        yield type(f.callback).__call__
    yield from twofa._PURPOSES.values()


def test_there_is_something_to_check():
    names = {fn.__qualname__ for fn in receivers()}
    assert {"cmd_admin", "cb_answer", "IsAdmin.__call__", "confirm_with_code", "on_error"} <= names
    assert len(names) > 80


def test_every_value_taken_by_name_has_its_one_type():
    wrong = []
    for fn in receivers():
        try:
            hints = typing.get_type_hints(fn)
        except NameError as err:  # an annotation names something its module does not import
            wrong.append(f"{fn.__module__}.{fn.__qualname__}: {err}")
            continue
        for name, param in inspect.signature(fn).parameters.items():
            if name not in EXPECTED:
                continue
            want = EXPECTED[name]
            allowed = {want} | ({want | None} if param.default is None else set())
            if hints.get(name) not in allowed:
                wrong.append(f"{fn.__module__}.{fn.__qualname__}({name}: {hints.get(name)!r}), want {want!r}")
    assert wrong == []


def test_build_dispatcher_fills_the_shared_values(tg, settings, db):
    data = shared(tg.dp)
    assert Shared.__required_keys__ == {"db", "params", "settings", "admin_ids", "in_flight"}
    assert Shared.__required_keys__ <= set(data)
    hints = typing.get_type_hints(Shared)
    for name in Shared.__required_keys__ - {"admin_ids"}:
        assert isinstance(data[name], hints[name]), name
    assert data["db"] is db and data["settings"] is settings and data["admin_ids"] == settings.admin_ids


async def test_a_tap_on_a_message_too_old_to_see_is_refused_before_anything_moves(tg, db):
    """Telegram sends an inaccessible message for one older than 48 hours: nothing can be edited
    there, so the tap is answered as a stale button and the bet is not placed."""
    from aiogram.types import CallbackQuery, Chat, InaccessibleMessage, Update

    from core.play import games
    from handlers.play.games import PlayCB

    alice = tg.person(41)
    await alice.send("/start")
    old = InaccessibleMessage(chat=Chat(id=41, type="private"), message_id=5)
    data = PlayCB(act="go", g="d", a="DOGE", amt=10_000, x=5050, y="o").pack()
    cq = CallbackQuery(id="77", from_user=alice.user, chat_instance="ci", data=data, message=old)
    sent = await tg.feed(Update(update_id=tg.next_update_id(), callback_query=cq))
    assert [s.method for s in sent] == ["answerCallbackQuery"]
    assert "This button is no longer valid" in texts(sent)
    assert await db.read(games.recent_bets, 41, 10) == []


def test_shown_returns_the_message_or_refuses():
    from datetime import UTC, datetime

    from aiogram.types import CallbackQuery, Chat, InaccessibleMessage, Message, User

    person = User(id=1, is_bot=False, first_name="A")
    msg = Message(message_id=1, date=datetime.now(UTC), chat=Chat(id=1, type="private"), text="x")
    assert shown(CallbackQuery(id="1", from_user=person, chat_instance="c", message=msg)) is msg
    old = InaccessibleMessage(chat=Chat(id=1, type="private"), message_id=1)
    for message in (old, None):
        try:
            shown(CallbackQuery(id="1", from_user=person, chat_instance="c", message=message))
        except StaleButton:
            continue
        raise AssertionError("a stale button must be refused")
