"""CallbackIndex: a tap reaches the same handler as plain aiogram routing would, faster."""

from __future__ import annotations

from aiogram import BaseMiddleware, Bot, Dispatcher, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Chat, Message, MessageEntity, Update, User

from core.platform.params import Params
from handlers import get_routers
from handlers.dispatcher import build_dispatcher
from handlers.middlewares import Throttle
from handlers.routing import CallbackIndex
from tests.handlers.harness import BOT_TOKEN, BOT_USER, RecordingSession


class ACB(CallbackData, prefix="a"):
    n: int


class CCB(CallbackData, prefix="c"):
    n: int


class Mark(BaseMiddleware):
    """An inner middleware of a feature router: it must still run under the index."""

    async def __call__(self, handler, event, data):
        data["marked"] = True
        return await handler(event, data)


def feature_routers() -> list[Router]:
    a, any_tap, c, last = Router(name="a"), Router(name="any"), Router(name="c"), Router(name="last")

    @a.callback_query(ACB.filter(F.n > 0))
    async def on_a(query: CallbackQuery, callback_data: ACB) -> str:
        return f"a{callback_data.n}"

    @any_tap.callback_query(F.data == "c:2")  # no CallbackData: may take any tap
    async def on_c2_first(query: CallbackQuery) -> str:
        return "any"

    c.callback_query.middleware(Mark())

    @c.callback_query(CCB.filter())
    async def on_c(query: CallbackQuery, callback_data: CCB, marked: bool = False) -> str:
        return f"c{callback_data.n}{'+' if marked else ''}"

    @last.callback_query()
    async def stale(query: CallbackQuery) -> str:
        return "stale"

    @last.message()
    async def text(message: Message) -> str:
        return "message"

    return [a, any_tap, c, last]


def tap(data: str, n: int = 1) -> Update:
    user = User(id=5, is_bot=False, first_name="U")
    msg = Message(message_id=1, date=0, chat=Chat(id=5, type="private"), from_user=BOT_USER, text="x")
    return Update(
        update_id=n,
        callback_query=CallbackQuery(id=str(n), from_user=user, chat_instance="i", data=data, message=msg),
    )


async def answers(dp: Dispatcher, datas: list[str]) -> list[str]:
    bot = Bot(BOT_TOKEN, session=RecordingSession())
    return [await dp.feed_update(bot, tap(d, i + 1)) for i, d in enumerate(datas)]


TAPS = ["a:3", "a:0", "c:1", "c:2", "zz", "", "a:x", "c", "q:1:2"]


async def test_index_answers_exactly_as_plain_routing():
    plain = Dispatcher()
    plain.include_routers(*feature_routers())
    indexed = Dispatcher()
    index = CallbackIndex()
    index.include_routers(*feature_routers())
    indexed.include_router(index)

    expected = await answers(plain, TAPS)
    assert expected == ["a3", "stale", "c1+", "any", "stale", "stale", "stale", "stale", "stale"]
    assert await answers(indexed, TAPS) == expected


async def test_index_offers_a_tap_only_to_routers_that_can_take_it():
    index = CallbackIndex()
    index.include_routers(*feature_routers())
    assert [r.name for r in index.routers_for("a:1")] == ["a", "any", "last"]
    assert [r.name for r in index.routers_for("c:1")] == ["any", "c", "last"]
    assert [r.name for r in index.routers_for("nope")] == ["any", "last"]


async def test_a_router_with_its_own_root_filter_sees_every_tap():
    gated = Router(name="gated")
    gated.callback_query.filter(F.from_user.id == 5)

    @gated.callback_query(ACB.filter())
    async def on_a(query: CallbackQuery) -> str:
        return "gated"

    index = CallbackIndex()
    index.include_routers(gated, *feature_routers())
    assert [r.name for r in index.routers_for("zz")] == ["gated", "any", "last"]


async def test_production_dispatcher_routes_every_prefix_to_the_fallback_last(tg):
    index = next(r for r in tg.dp.sub_routers if isinstance(r, CallbackIndex))
    index.routers_for(None)
    assert index._table, "the production routers declare callback prefixes"
    for prefix, routers in index._table.items():
        assert routers[-1].name == "handlers.home.fallback", prefix
        assert len(routers) < len(index.sub_routers), prefix


def test_every_call_builds_routers_no_dispatcher_owns_yet():
    """Routers come from functions (``def router() -> Router``): nothing to detach between dispatchers."""
    first, second = get_routers(), get_routers()
    assert [r.name for r in first] == [r.name for r in second]
    assert all(a is not b for a, b in zip(first, second, strict=True))
    assert all(r.parent_router is None for r in second)
    proof = next(r for r in second if r.name == "handlers.cashout.addresses").sub_routers
    assert [r.name for r in proof] == ["handlers.cashout.address_proof"]  # a sub-router built with its parent


async def test_two_dispatchers_in_one_process_each_answer(settings, db):
    """Two production dispatchers side by side (as tests and benches build them) both route fully."""
    user = User(id=77, is_bot=False, first_name="Bo", language_code="en")
    replies = []
    for n in (1, 2):
        session = RecordingSession()
        bot = Bot(BOT_TOKEN, session=session)
        dp = build_dispatcher(settings, db, params=Params(env={}), throttle=Throttle(limit=1000))
        msg = Message(
            message_id=n,
            date=0,
            chat=Chat(id=77, type="private"),
            from_user=user,
            text="/help",
            entities=[MessageEntity(type="bot_command", offset=0, length=5)],
        )
        await dp.feed_update(bot, Update(update_id=n, message=msg))
        await dp.feed_update(bot, tap("zz", 10 + n))  # a stale button still reaches the fallback
        replies.append([s.method for s in session.sent])
    assert replies == [["sendMessage", "answerCallbackQuery"]] * 2
