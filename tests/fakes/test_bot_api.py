"""Tests of the fake Bot API itself, driven by a real aiogram Bot/Dispatcher over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import segno
from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from .bot_api import DEFAULT_TOKEN, FakeBotAPI, UploadedFile
from .formatting import parse_html, parse_markdown_v2
from .process import BotProcess, BotProcessError

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Balance 💰", callback_data="balance"),
            InlineKeyboardButton(text="Docs", url="https://example.org/docs"),
        ]
    ]
)


def make_router() -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        name = html.quote(message.from_user.first_name)
        await message.answer(f"Hello, <b>{name}</b>! payload={command.args}", reply_markup=KEYBOARD)

    @router.message(F.text)
    async def echo(message: Message) -> Any:
        return message.answer(message.text, parse_mode=None)  # returned → webhook reply when possible

    @router.callback_query(F.data == "balance")
    async def balance(query: CallbackQuery) -> None:
        await query.message.edit_text("Balance: <code>0.00</code>", reply_markup=query.message.reply_markup)
        await query.answer("Updated")

    return router


def html_bot(api: FakeBotAPI) -> Bot:
    return api.make_bot(default=DefaultBotProperties(parse_mode=ParseMode.HTML))


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = html_bot(api)
    yield bot
    await bot.session.close()


@contextlib.asynccontextmanager
async def polling(api: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = html_bot(api)
    dp = Dispatcher()
    dp.include_router(make_router())
    ready = api.ready_when("getUpdates")
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=5))
    await asyncio.wait_for(ready(), 5)
    try:
        yield bot
    finally:
        await dp.stop_polling()
        await task


def png(text: str = "dustpan") -> bytes:
    buf = io.BytesIO()
    segno.make(text).save(buf, kind="png", scale=4)
    return buf.getvalue()


async def test_polling_start_command_reply_is_recorded(api: FakeBotAPI) -> None:
    alice = api.user(1001, "Alice <3", username="alice")
    async with polling(api):
        update = await alice.send("/start ref42")
        call = await api.wait_for("sendMessage", chat_id=alice.id)

    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert call.params["text"] == "Hello, <b>Alice &lt;3</b>! payload=ref42"
    assert call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "balance"
    shown = api.last_message(alice.id)
    assert shown is not None and shown.text == "Hello, Alice <3! payload=ref42"
    assert shown.entities == [{"type": "bold", "offset": 7, "length": 8}]
    assert shown.button_texts() == ["Balance 💰", "Docs"]
    assert shown.message_id == 2  # the user's /start was message 1 in this private chat
    assert call.result["from"] == api.bot_user() and call.result["chat"]["type"] == "private"
    first_poll = api.find_calls("getUpdates")[0]
    assert {"message", "callback_query"} <= set(first_poll.params["allowed_updates"])
    assert api.find_calls("getMe", ok=True)
    assert api.pending_updates == []  # confirmed by the next getUpdates offset


async def test_tap_button_reaches_callback_handler_and_edits(api: FakeBotAPI) -> None:
    bob = api.user(1002, "Bob")
    async with polling(api):
        await bob.send("/start@dustpan_test_bot")
        await bob.wait_for("sendMessage")
        tap = await bob.tap_button("Balance")
        await bob.wait_for("answerCallbackQuery")

    assert tap["callback_query"]["message"]["text"].startswith("Hello, Bob")
    assert api.callback_answer(tap) == {"text": "Updated"}
    [shown] = api.messages(bob.id)
    assert shown.text == "Balance: 0.00" and shown.edited
    assert shown.entities == [{"type": "code", "offset": 9, "length": 4}]
    assert shown.button_texts() == ["Balance 💰", "Docs"]
    assert [m.text for m in api.messages(bob.id, include_user=True)] == [
        "/start@dustpan_test_bot",
        shown.text,
    ]


async def test_edit_semantics(api: FakeBotAPI, bot: Bot) -> None:
    carol = api.user(1003, "Carol")
    sent = await bot.send_message(carol.id, "Pick one", reply_markup=KEYBOARD)

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Pick one", chat_id=carol.id, message_id=sent.message_id, reply_markup=KEYBOARD
        )
    # Same text but no reply_markup *is* a modification: Telegram drops the inline keyboard.
    await bot.edit_message_text("Pick one", chat_id=carol.id, message_id=sent.message_id)
    assert api.last_message(carol.id).buttons == []
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=carol.id, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=carol.id, message_id=999)
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=carol.id, message_id=sent.message_id, caption="c")
    await bot.delete_message(carol.id, sent.message_id)
    assert api.messages(carol.id) == []
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(carol.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hi")


async def test_formatting_and_markup_errors_like_telegram(api: FakeBotAPI, bot: Bot) -> None:
    dave = api.user(1004, "Dave")
    with pytest.raises(
        TelegramBadRequest, match=r"can't parse entities: Unsupported start tag \"\" at byte offset 2"
    ):
        await bot.send_message(dave.id, "1 < 2")
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(dave.id, "Total: 1.5", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(dave.id, "<b> </b>")
    long_data = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="x" * 65)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(dave.id, "hi", reply_markup=long_data)
    bare = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x")]])
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(dave.id, "hi", reply_markup=bare)
    assert api.messages(dave.id) == []
    failed = api.find_calls("sendMessage", dave.id, ok=False)
    assert len(failed) == 5 and failed[0].status == 400
    # Plain text mode leaves markup characters alone.
    msg = await bot.send_message(dave.id, "1 < 2 & <b>", parse_mode=None)
    assert msg.text == "1 < 2 & <b>" and msg.entities is None


def test_parsers_match_tdlib_errors() -> None:
    assert parse_html("<b>bold <i>both</i></b> &amp; &#x1F600; &nbsp;") == (
        "bold both & 😀 &nbsp;",
        [{"offset": 0, "length": 9, "type": "bold"}, {"offset": 5, "length": 4, "type": "italic"}],
    )
    assert parse_markdown_v2(r"*b* \_ `a.b` [t](https://a.org/x\)y)")[1] == [
        {"type": "bold", "offset": 0, "length": 1},
        {"type": "code", "offset": 4, "length": 3},
        {"type": "text_link", "offset": 8, "length": 1, "url": "https://a.org/x)y"},
    ]
    for bad, error in [
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("é<div>", 'Unsupported start tag "div" at byte offset 2'),
    ]:
        with pytest.raises(ValueError, match=error):
            parse_html(bad)


async def test_webhook_delivery_with_secret_retries_and_reply(api: FakeBotAPI, bot: Bot) -> None:
    erin = api.user(1005, "Erin")
    dp = Dispatcher()
    dp.include_router(make_router())
    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="s3cret-Token_1", handle_in_background=False).register(
        app, "/hook"
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        await bot.set_webhook(hook_url, secret_token="wrong-secret")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        await erin.send("ping")
        await api.wait_until(lambda: bool(api.webhook_deliveries))
        info = await bot.get_webhook_info()
        assert info.url == hook_url and info.pending_update_count == 1
        assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"

        await bot.set_webhook(hook_url, secret_token="s3cret-Token_1")
        call = await api.wait_for("sendMessage", chat_id=erin.id)
        assert call.source == "webhook-reply" and call.params == {"chat_id": erin.id, "text": "ping"}
        assert (
            api.webhook_deliveries[-1].status == 200
            and api.webhook_deliveries[-1].reply_method == "sendMessage"
        )
        assert (await bot.get_webhook_info()).pending_update_count == 0

        with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
            await bot.set_webhook(hook_url, secret_token="no spaces!")
        assert await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == []
    finally:
        await runner.cleanup()


async def test_send_photo_and_document_upload_and_download(api: FakeBotAPI, bot: Bot) -> None:
    frank = api.user(1006, "Frank")
    image = png()
    msg = await bot.send_photo(frank.id, BufferedInputFile(image, "qr.png"), caption="<b>Deposit</b> address")
    call = api.find_calls("sendPhoto")[-1]
    upload = call.params["photo"]
    assert isinstance(upload, UploadedFile) and upload.filename == "qr.png" and upload.data == image
    assert call.params["caption"] == "<b>Deposit</b> address"
    assert msg.caption == "Deposit address" and msg.caption_entities[0].type == "bold"
    largest = msg.photo[-1]
    stored = api.files[largest.file_id]
    assert (largest.width, largest.height) == (stored.width, stored.height)
    downloaded = await bot.download(largest.file_id)
    assert downloaded.read() == image
    again = await bot.send_photo(frank.id, largest.file_id)  # re-send by file_id, no upload
    assert again.photo[-1].file_unique_id == largest.file_unique_id

    doc = await bot.send_document(frank.id, BufferedInputFile(b"a,b\n1,2\n", "export.csv"))
    assert doc.document.file_name == "export.csv" and doc.document.mime_type == "text/csv"
    file = await bot.get_file(doc.document.file_id)
    assert file.file_path.startswith("documents/")
    assert (await bot.download(file)).read() == b"a,b\n1,2\n"

    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(frank.id, BufferedInputFile(b"not an image", "x.png"))
    with pytest.raises(TelegramBadRequest, match="can't use file of type Document as Photo"):
        await bot.send_photo(frank.id, doc.document.file_id)
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(frank.id, "nonsense")


async def test_edit_message_media_and_web_app_buttons(api: FakeBotAPI, bot: Bot) -> None:
    from aiogram.types import InputMediaPhoto, WebAppInfo

    gina = api.user(1007, "Gina")
    first, second = png(), png("another picture")
    msg = await bot.send_photo(
        gina.id, BufferedInputFile(first, "a.png"), caption="one", reply_markup=KEYBOARD
    )
    edited = await bot.edit_message_media(
        InputMediaPhoto(media=BufferedInputFile(second, "b.png"), caption="<b>two</b>"),
        chat_id=gina.id,
        message_id=msg.message_id,
        reply_markup=KEYBOARD,
    )
    assert edited.message_id == msg.message_id and edited.caption == "two"
    assert edited.photo[-1].file_id != msg.photo[-1].file_id
    assert api.files[edited.photo[-1].file_id].data == second
    shown = api.last_message(gina.id)
    assert shown.kind == "photo" and shown.edited and shown.button_texts() == ["Balance 💰", "Docs"]
    text = await bot.send_message(gina.id, "text first")  # a text message gains media
    as_photo = await bot.edit_message_media(
        InputMediaPhoto(media=BufferedInputFile(first, "c.png")), chat_id=gina.id, message_id=text.message_id
    )
    assert as_photo.photo and as_photo.text is None
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.edit_message_media(
            InputMediaPhoto(media=BufferedInputFile(b"nope", "x.png")),
            chat_id=gina.id,
            message_id=msg.message_id,
        )
    app = InlineKeyboardButton(text="Open", web_app=WebAppInfo(url="https://app.example/captcha/1"))
    await bot.send_message(gina.id, "app", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[app]]))
    plain = InlineKeyboardButton(text="Open", web_app=WebAppInfo(url="http://app.example/captcha/1"))
    with pytest.raises(TelegramBadRequest, match="BUTTON_URL_INVALID"):
        await bot.send_message(gina.id, "app", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[plain]]))


async def test_set_my_commands_per_scope_and_language(api: FakeBotAPI, bot: Bot) -> None:
    ru_user = api.user(1007, "Ivan", language_code="ru")
    de_user = api.user(1008, "Hans", language_code="de")
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands([BotCommand(command="start", description="Начать")], language_code="ru")
    await bot.set_my_commands(
        [BotCommand(command="admin", description="Admin")], scope=BotCommandScopeChat(chat_id=de_user.id)
    )

    assert [c.description for c in await bot.get_my_commands(language_code="ru")] == ["Начать"]
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert await bot.get_my_commands(language_code="de") == []  # no fallback in getMyCommands
    assert api.commands(language_code="ru") == [{"command": "start", "description": "Начать"}]
    assert api.visible_commands(ru_user)[0]["description"] == "Начать"
    assert api.visible_commands(de_user)[0]["command"] == "admin"

    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start", description="x")])
    assert await bot.delete_my_commands(language_code="ru")
    assert api.visible_commands(ru_user)[0]["description"] == "Start"


async def test_http_protocol_errors_and_encodings(api: FakeBotAPI) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.url}/bot999:WRONG/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(f"{api.url}/bot{DEFAULT_TOKEN}/sendTelepathy") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.get(f"{api.url}/bot{DEFAULT_TOKEN}/GETME") as resp:  # case-insensitive
            assert (await resp.json())["result"]["username"] == "dustpan_test_bot"
        user = api.user(1009, "Gina")
        body = {"chat_id": user.id, "text": "json body", "reply_markup": {"inline_keyboard": []}}
        async with http.post(f"{api.url}/bot{DEFAULT_TOKEN}/sendMessage", json=body) as resp:
            result = (await resp.json())["result"]
            assert result["text"] == "json body" and "reply_markup" not in result
        form = {"chat_id": str(user.id), "text": "123", "reply_markup": json.dumps({"bad": 1})}
        async with http.post(f"{api.url}/bot{DEFAULT_TOKEN}/sendMessage", data=form) as resp:
            assert resp.status == 400
            assert (await resp.json())[
                "description"
            ] == "Bad Request: can't parse reply keyboard markup JSON object"
    assert api.find_calls("sendMessage")[-1].params["text"] == "123"  # strings stay strings


async def test_get_updates_offsets_and_conflicts(api: FakeBotAPI, bot: Bot) -> None:
    hal = api.user(1010, "Hal")
    u1 = await hal.send("one")
    u2 = await hal.send("two")
    assert [u.update_id for u in await bot.get_updates()] == [u1["update_id"], u2["update_id"]]
    assert [u.update_id for u in await bot.get_updates(offset=u2["update_id"])] == [u2["update_id"]]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [u2["update_id"]]
    assert await bot.get_updates(offset=u2["update_id"] + 1, timeout=0) == []

    since = api.mark()
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await api.wait_for("getUpdates", since=since, ok=None)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    u3 = await hal.send("three")
    assert [u.update_id for u in await second] == [u3["update_id"]]

    await bot.get_updates(offset=u3["update_id"] + 1, allowed_updates=["callback_query"])
    await hal.send("filtered out")
    assert api.pending_updates == [] and api.dropped_updates[-1]["message"]["text"] == "filtered out"


async def test_flood_limit_block_injected_errors_and_callbacks(api: FakeBotAPI, bot: Bot) -> None:
    ivy = api.user(1011, "Ivy")
    api.set_flood_limit(1, per_seconds=1.0)
    await bot.send_message(ivy.id, "first")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ivy.id, "second")
    assert caught.value.retry_after == 1
    api.set_flood_limit(None)

    api.fail_next("sendMessage", 502, "Bad Gateway")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(ivy.id, "third")
    await bot.send_message(ivy.id, "fourth")

    await ivy.block()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ivy.id, "fifth")
    await ivy.unblock()

    msg = await bot.send_message(ivy.id, "tap me", reply_markup=KEYBOARD)
    tap = await ivy.tap(msg.message_id, "balance")
    query_id = tap["callback_query"]["id"]
    assert await bot.answer_callback_query(query_id, text="ok", show_alert=True)
    assert api.callback_answer(query_id) == {"text": "ok", "show_alert": True}
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(AssertionError, match="no button with callback_data"):
        await ivy.tap(msg.message_id, "forged")
    with pytest.raises(TelegramRetryAfter):  # close() is refused in the first 10 minutes, like Telegram
        await bot.close()
    assert [m.text for m in api.messages(ivy.id)] == ["first", "fourth", "tap me"]


BOT_SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, os

    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    logging.basicConfig(level=logging.INFO)
    dp = Dispatcher()

    @dp.message()
    async def echo(message):
        await message.answer("echo: " + message.text)

    async def main():
        api = TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"])
        bot = Bot(os.environ["BOT_TOKEN"], session=AiohttpSession(api=api))
        await dp.start_polling(bot)

    asyncio.run(main())
    """
)
# Stand-ins that don't import aiogram (importing it costs ~3 s per process).
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('UP' * 2); time.sleep(60)"
)
CRASH = "import sys; print('loading config'); sys.exit('config error: BOT_TOKEN is not set')"


async def test_bot_process_polling_roundtrip_and_graceful_stop(api: FakeBotAPI, tmp_path: Any) -> None:
    (tmp_path / "bot.py").write_text(BOT_SCRIPT)
    jane = api.user(1012, "Jane")
    proc = BotProcess(api.env(), cwd=tmp_path, log_path=tmp_path / "bot.log")
    assert proc.argv == [sys.executable, "bot.py"]
    await proc.start(ready=api.ready_when("getUpdates"), timeout=30)
    await jane.send("hi")
    assert (await jane.wait_for("sendMessage")).params["text"] == "echo: hi"
    assert await proc.stop(signal.SIGTERM) == 0
    assert "Start polling" in proc.output() and "Polling stopped" in proc.output()


async def test_bot_process_kill_crash_and_hang(api: FakeBotAPI, tmp_path: Any) -> None:
    stubborn = BotProcess({}, cwd=tmp_path, argv=("-c", STUBBORN), log_path=tmp_path / "stubborn.log")
    await stubborn.start(ready=lambda: stubborn.wait_for_output("UPUP"), timeout=10)
    with pytest.raises(BotProcessError, match="did not exit within 0.3s after SIGTERM; killed"):
        await stubborn.stop(timeout=0.3)
    assert stubborn.returncode == -signal.SIGKILL and not stubborn.running

    victim = BotProcess({}, cwd=tmp_path, argv=("-c", STUBBORN), log_path=tmp_path / "victim.log")
    await victim.start()
    assert victim.running and await victim.kill() == -signal.SIGKILL

    crashing = BotProcess({}, cwd=tmp_path, argv=("-c", CRASH), log_path=tmp_path / "crash.log")
    with pytest.raises(
        BotProcessError, match="(?s)exited with code 1 before it was ready.*BOT_TOKEN is not set"
    ):
        await crashing.start(ready=api.ready_when("getUpdates"), timeout=10)
