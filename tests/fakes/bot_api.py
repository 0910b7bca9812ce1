"""A local fake of the Telegram Bot API, served over real HTTP on 127.0.0.1.

It speaks the wire protocol the real server speaks (``POST /bot<token>/<method>`` with query-string,
urlencoded, multipart or JSON parameters; ``GET /file/bot<token>/<file_path>`` for downloads) and
models the semantics bots trip over: long polling with offsets, webhook delivery with retries and the
secret-token header, per-chat message ids, HTML/Markdown parsing errors, "message is not modified",
inline keyboards vanishing on edits without ``reply_markup``, callback query expiry, blocked users,
flood control. Anything it does not implement answers 404 like Telegram does for unknown methods.

Usage::

    async with FakeBotAPI() as api:                      # api.url -> "http://127.0.0.1:<port>"
        alice = api.user(1001, first_name="Alice", language_code="en")
        ... start the bot with TELEGRAM_API_URL=api.url ...
        await alice.send("/start")
        call = await api.wait_for("sendMessage", chat_id=alice.id)
        assert "Welcome" in api.last_message(alice.id).text
        await alice.tap_button("Balance")
        await api.wait_for("answerCallbackQuery", chat_id=alice.id)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import mimetypes
import re
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .formatting import EntityParseError, format_text, u16len

__all__ = [
    "ApiError",
    "Call",
    "ChatMessage",
    "DEFAULT_TOKEN",
    "FakeBotAPI",
    "FakeGroup",
    "FakeUser",
    "StoredFile",
    "UploadedFile",
    "WebhookDelivery",
]

DEFAULT_TOKEN = "123456:TEST-TOKEN"
JSONDict = dict[str, Any]

# Update types delivered when allowed_updates is unset or [] (Bot API default).
ALL_UPDATE_TYPES = frozenset({
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
    "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
    "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member",
    "chat_join_request", "chat_boost", "removed_chat_boost",
})  # fmt: skip
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {"chat_member", "message_reaction", "message_reaction_count"}

CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})  # fmt: skip

COMMAND_SCOPES = frozenset({
    "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
    "chat_administrators", "chat_member",
})  # fmt: skip

BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
)  # fmt: skip

# How form-encoded string values are decoded (everything else stays a string, like `text`).
JSON_FIELDS = frozenset({
    "reply_markup", "entities", "caption_entities", "allowed_updates", "commands", "scope", "menu_button",
    "link_preview_options", "reply_parameters", "media", "message_ids", "results", "button",
})  # fmt: skip
INT_FIELDS = frozenset({
    "message_id", "offset", "limit", "timeout", "max_connections", "cache_time", "reply_to_message_id",
    "message_thread_id", "user_id", "from_chat_id",
})  # fmt: skip
BOOL_FIELDS = frozenset({
    "drop_pending_updates", "disable_notification", "protect_content", "show_alert",
    "disable_web_page_preview", "allow_sending_without_reply", "has_spoiler", "show_caption_above_media",
    "disable_content_type_detection", "allow_paid_broadcast", "for_channels", "is_personal",
})  # fmt: skip
FILE_FIELDS = frozenset({"photo", "document", "thumbnail", "certificate"})

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
MESSAGE_CHANGING = (
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "editMessageText",
    "editMessageCaption",
    "editMessageMedia",
    "editMessageReplyMarkup",
)


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


def forbidden(text: str) -> ApiError:
    return ApiError(403, f"Forbidden: {text}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


@dataclass
class UploadedFile:
    """A multipart file part as received (the bytes the bot uploaded)."""

    filename: str
    data: bytes
    content_type: str | None = None


@dataclass
class StoredFile:
    """A file the fake "server" holds: uploaded by the bot or sent by a fake user."""

    file_id: str
    file_unique_id: str
    kind: str  # "photo" | "document"
    data: bytes
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0


@dataclass
class Call:
    """One API request as the server saw it. ``params`` are decoded: JSON fields parsed, ints/bools
    converted, uploaded files as :class:`UploadedFile` (``attach://`` references resolved)."""

    method: str
    params: JSONDict
    time: float
    index: int
    source: str = "http"  # "http", or "webhook-reply" for a method returned in a webhook response
    chat_id: int | str | None = None
    status: int | None = None  # None while in progress (long polls)
    response: JSONDict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def result(self) -> Any:
        if not self.ok:
            raise AssertionError(f"{self.method} failed: {self.error}")
        return self.response["result"]  # type: ignore[index]

    @property
    def error(self) -> str | None:
        return None if self.response is None or self.ok else self.response.get("description")

    def __repr__(self) -> str:
        outcome = "pending" if self.response is None else ("ok" if self.ok else f"{self.status} {self.error}")
        shown = {
            k: (f"<file {v.filename!r} {len(v.data)}B>" if isinstance(v, UploadedFile) else v)
            for k, v in self.params.items()
        }
        return f"<Call #{self.index} {self.method} {shown} -> {outcome}>"


@dataclass
class ChatMessage:
    """A message as the user currently sees it on screen (after edits). ``raw`` is the Message JSON."""

    raw: JSONDict

    @property
    def message_id(self) -> int:
        return self.raw["message_id"]

    @property
    def from_bot(self) -> bool:
        return self.raw["from"]["is_bot"]

    @property
    def kind(self) -> str:
        return next((k for k in ("photo", "document") if k in self.raw), "text")

    @property
    def text(self) -> str:
        """Text of a text message, caption of a media message ("" if none). Plain, tags stripped."""
        return self.raw.get("text", self.raw.get("caption", ""))

    @property
    def entities(self) -> list[JSONDict]:
        return self.raw.get("entities", self.raw.get("caption_entities", []))

    @property
    def edited(self) -> bool:
        return "edit_date" in self.raw

    @property
    def reply_markup(self) -> JSONDict | None:
        return self.raw.get("reply_markup")

    @property
    def buttons(self) -> list[list[JSONDict]]:
        return (self.reply_markup or {}).get("inline_keyboard", [])

    def button_texts(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]

    def button(self, text: str) -> JSONDict:
        """The inline button whose text contains ``text`` (exact match preferred)."""
        found = [b for row in self.buttons for b in row if text in b["text"]]
        exact = [b for b in found if b["text"] == text]
        if len(exact) == 1:
            return exact[0]
        if len(found) != 1:
            raise AssertionError(
                f"{'no' if not found else 'several'} buttons matching {text!r} on message "
                f"{self.message_id}; buttons: {self.button_texts()}"
            )
        return found[0]

    def __repr__(self) -> str:
        return f"<ChatMessage {self.message_id} {self.kind} {self.text!r} buttons={self.button_texts()}>"


@dataclass
class WebhookDelivery:
    """One POST of an update to the webhook and what came back."""

    update_id: int
    url: str
    time: float
    status: int | None  # None when the connection failed
    error: str | None  # None on success (2xx)
    reply_method: str | None = None  # method the bot returned in the response body, if any


@dataclass
class _Chat:
    user: FakeUser
    next_message_id: int = 1
    messages: dict[int, JSONDict] = field(default_factory=dict)  # current state, both directions
    deleted: set[int] = field(default_factory=set)
    reply_keyboard: JSONDict | None = None
    blocked: bool = False
    recent_writes: deque[float] = field(default_factory=deque)


@dataclass
class _CallbackQuery:
    chat_id: int
    created: float
    answer: JSONDict | None = None


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None


class _Described:
    """A successful result that carries a ``description`` too (setWebhook & co. do that)."""

    def __init__(self, result: Any, description: str) -> None:
        self.result, self.description = result, description


class FakeUser:
    """A Telegram user in a private chat with the bot. Create with :meth:`FakeBotAPI.user`."""

    def __init__(
        self,
        api: FakeBotAPI,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> None:
        self.api = api
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    @property
    def chat_id(self) -> int:
        return self.id

    def as_user(self) -> JSONDict:
        user: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def as_chat(self) -> JSONDict:
        chat: JSONDict = {"id": self.id, "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        chat["type"] = "private"
        return chat

    # -- things the user does (each enqueues an update and returns it as a dict) --

    async def send(self, text: str, *, reply_to: int | None = None) -> JSONDict:
        """Send a text message. Commands get ``bot_command`` entities like in real clients."""
        content: JSONDict = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return await self._send_message(content, reply_to)

    async def send_document(
        self, data: bytes, filename: str, *, caption: str | None = None, mime_type: str | None = None
    ) -> JSONDict:
        mime_type = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self.api._store_file("document", data, filename=filename, mime_type=mime_type)
        content: JSONDict = {"document": self.api._document_json(stored)}
        if caption:
            content["caption"] = caption
        return await self._send_message(content, None)

    async def send_photo(self, data: bytes, *, caption: str | None = None) -> JSONDict:
        size = image_size(data)
        if size is None:
            raise AssertionError("send_photo needs PNG/JPEG/GIF/WEBP bytes")
        stored = self.api._store_file("photo", data, width=size[0], height=size[1])
        content: JSONDict = {"photo": self.api._photo_sizes(stored)}
        if caption:
            content["caption"] = caption
        return await self._send_message(content, None)

    async def tap(
        self, message: int | ChatMessage | JSONDict, callback_data: str, *, strict: bool = True
    ) -> JSONDict:
        """Press an inline button on a bot message. With ``strict`` (default) the current keyboard
        of that message must contain a button with this ``callback_data``, as in a real client."""
        chat = self._chat()
        if isinstance(message, ChatMessage):
            message_id = message.message_id
        else:
            message_id = message if isinstance(message, int) else message["message_id"]
        current = chat.messages.get(message_id)
        if current is None or message_id in chat.deleted:
            raise AssertionError(f"message {message_id} is not on screen in chat {self.id}")
        datas = [b.get("callback_data") for row in ChatMessage(current).buttons for b in row]
        if strict and callback_data not in datas:
            raise AssertionError(
                f"message {message_id} has no button with callback_data={callback_data!r} (has {datas})"
            )
        query_id = str(self.api._next_query_id())
        self.api._callbacks[query_id] = _CallbackQuery(chat_id=self.id, created=time.monotonic())
        query = {
            "id": query_id,
            "from": self.as_user(),
            "message": copy.deepcopy(current),
            "chat_instance": str(-(10**18) - self.id),
            "data": callback_data,
        }
        return await self.api._enqueue("callback_query", query, self)

    async def tap_button(self, text: str) -> JSONDict:
        """Press the callback button containing ``text`` on the latest bot message that has buttons."""
        message = next((m for m in reversed(self.api.messages(self.id)) if m.buttons), None)
        if message is None:
            raise AssertionError(f"no bot message with an inline keyboard in chat {self.id}")
        button = message.button(text)
        if "callback_data" not in button:
            raise AssertionError(f"button {button['text']!r} is not a callback button: {button}")
        return await self.tap(message, button["callback_data"])

    async def block(self) -> JSONDict:
        """Block the bot: sends now fail with 403, and a my_chat_member update is enqueued."""
        self._chat().blocked = True
        return await self._member_update("member", "kicked")

    async def unblock(self) -> JSONDict:
        self._chat().blocked = False
        return await self._member_update("kicked", "member")

    async def inline_query(self, query: str, *, chat_type: str = "sender") -> JSONDict:
        """Type ``@bot <query>`` in some chat: an ``inline_query`` update; the bot's answer is kept
        (``api.inline_answer(update)``)."""
        query_id = str(self.api._next_query_id())
        self.api._inline_queries[query_id] = {"user": self.id, "query": query, "answer": None}
        payload = {
            "id": query_id,
            "from": self.as_user(),
            "query": query,
            "offset": "",
            "chat_type": chat_type,
        }
        return await self.api._enqueue("inline_query", payload, self)

    async def choose_inline_result(
        self, query_update: JSONDict, result_id: str, chat: FakeGroup | FakeUser | None = None
    ) -> JSONDict:
        """Pick a result of the bot's answer to ``query_update``: its message is posted in ``chat``
        (via the bot, as the user) and a ``chosen_inline_result`` update is enqueued, with an
        ``inline_message_id`` when the result has an inline keyboard (as Telegram does)."""
        query_id = query_update["inline_query"]["id"]
        answer = self.api._inline_queries[query_id]["answer"]
        if answer is None:
            raise AssertionError(f"the bot did not answer inline query {query_id}")
        result = next((r for r in answer["results"] if r.get("id") == result_id), None)
        if result is None:
            raise AssertionError(
                f"no result {result_id!r} in the answer: {[r.get('id') for r in answer['results']]}"
            )
        content = result.get("input_message_content") or {}
        message: JSONDict = {
            "from": self.as_user(),
            "date": int(time.time()),
            "via_bot": self.api.bot_user(),
            "text": format_text(content.get("message_text", ""), content.get("parse_mode"), None)[0],
        }
        markup = result.get("reply_markup")
        if markup:
            message["reply_markup"] = markup
        inline_message_id = None
        if markup:
            inline_message_id = secrets.token_urlsafe(18)
        target = self.api._chats[(chat or self).id]
        message["message_id"] = target.next_message_id
        message["chat"] = (chat or self).as_chat()
        target.next_message_id += 1
        target.messages[message["message_id"]] = message
        if inline_message_id:
            self.api._inline_messages[inline_message_id] = (target, message["message_id"])
        payload: JSONDict = {"result_id": result_id, "from": self.as_user(), "query": answer["query"]}
        if inline_message_id:
            payload["inline_message_id"] = inline_message_id
        return await self.api._enqueue("chosen_inline_result", payload, self)

    # -- what the user sees / waiting for the bot --

    def messages(self) -> list[ChatMessage]:
        return self.api.messages(self.id)

    def last_message(self) -> ChatMessage | None:
        return self.api.last_message(self.id)

    async def wait_for(self, method: str | Collection[str] = MESSAGE_CHANGING, **kwargs: Any) -> Call:
        """Wait for the bot's next call to this chat (default: anything that changes the screen)."""
        return await self.api.wait_for(method, chat_id=self.id, **kwargs)

    # -- internals --

    def _chat(self) -> _Chat:
        return self.api._chats[self.id]

    async def _send_message(self, content: JSONDict, reply_to: int | None) -> JSONDict:
        chat = self._chat()
        if chat.blocked:
            raise AssertionError(f"user {self.id} has blocked the bot; call unblock() first")
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: JSONDict = {
            "message_id": message_id,
            "from": self.as_user(),
            "chat": self.as_chat(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            message["reply_to_message"] = _without_reply(chat.messages[reply_to])
        message.update(content)
        chat.messages[message_id] = message
        return await self.api._enqueue("message", copy.deepcopy(message), self)

    async def _member_update(self, old: str, new: str) -> JSONDict:
        bot = self.api.bot_user()
        payload = {
            "chat": self.as_chat(),
            "from": self.as_user(),
            "date": int(time.time()),
            "old_chat_member": {"user": bot, "status": old, **({"until_date": 0} if old == "kicked" else {})},
            "new_chat_member": {"user": bot, "status": new, **({"until_date": 0} if new == "kicked" else {})},
        }
        return await self.api._enqueue("my_chat_member", payload, self)

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.first_name!r}>"


_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")


def command_entities(text: str) -> list[JSONDict]:
    """``bot_command`` entities Telegram clients attach to "/cmd", "/cmd@bot", "/start payload"."""
    return [
        {"type": "bot_command", "offset": u16len(text[: m.start()]), "length": u16len(m.group())}
        for m in _COMMAND_RE.finditer(text)
    ]


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG/JPEG/GIF/WEBP image, None if it's not one of those."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return (int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1)
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        if chunk == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return (w & 0x3FFF, h & 0x3FFF)
        return None
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return (w, h)
            i += 2 + length
    return None


def _without_reply(message: JSONDict) -> JSONDict:
    return {k: v for k, v in copy.deepcopy(message).items() if k != "reply_to_message"}


def _decode_param(name: str, value: Any) -> Any:
    """Decode one parameter the way the Bot API does: by the field's type, not by its looks."""
    if isinstance(value, UploadedFile):
        return value
    if name in JSON_FIELDS:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            what = {
                "reply_markup": "reply keyboard markup",
                "entities": "entities",
                "caption_entities": "entities",
            }.get(name, name)
            raise bad_request(f"can't parse {what} JSON object") from None
    if name in ("chat_id", "from_chat_id") and isinstance(value, str):
        return int(value) if re.fullmatch(r"\s*-?\d+\s*", value) else value
    if name in INT_FIELDS:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None
    if name in BOOL_FIELDS:
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in ("true", "1", "false", "0", ""):
            return lowered in ("true", "1")
        raise bad_request(f"invalid {name} specified")
    return value


def _button_url_ok(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme == "tg":
        return bool(parts.netloc or parts.path)
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and "." in host and not host.endswith(".")


class FakeGroup:
    """A group the bot is a member of. Create with :meth:`FakeBotAPI.group`; people talk with
    ``group.send(user, text, reply_to=...)``; the bot's messages land here like in a private chat."""

    def __init__(self, api: FakeBotAPI, chat_id: int, title: str) -> None:
        self.api, self.id, self.title = api, chat_id, title

    def as_chat(self) -> JSONDict:
        return {"id": self.id, "title": self.title, "type": "supergroup"}

    async def send(self, user: FakeUser, text: str, *, reply_to: int | None = None) -> JSONDict:
        """``user`` writes ``text`` here (commands get entities), optionally as a reply."""
        chat = self.api._chats[self.id]
        message: JSONDict = {
            "message_id": chat.next_message_id,
            "from": user.as_user(),
            "chat": self.as_chat(),
            "date": int(time.time()),
            "text": text,
        }
        chat.next_message_id += 1
        entities = command_entities(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = _without_reply(chat.messages[reply_to])
        chat.messages[message["message_id"]] = message
        self.api._chat_members.setdefault((self.id, user.id), "member")
        return await self.api._enqueue("message", copy.deepcopy(message), self)  # type: ignore[arg-type]

    def messages(self) -> list[ChatMessage]:
        """Every message on screen, people's and the bot's."""
        return self.api.messages(self.id, include_user=True)

    def __repr__(self) -> str:
        return f"<FakeGroup {self.id} {self.title!r}>"


class FakeBotAPI:
    """The fake server. See the module docstring for a tour.

    Knobs (constructor arguments or attributes):
      * ``flood_limit=(n, seconds)``: more than ``n`` message sends/edits to one chat within
        ``seconds`` get 429 with ``parameters.retry_after`` (off by default).
      * ``callback_query_ttl``: seconds after which answerCallbackQuery says "query is too old".
      * ``close_cooldown``: ``close`` answers 429 during the first N seconds (Telegram: 10 minutes).
      * ``webhook_retry_delay`` / ``webhook_max_retry_delay`` / ``webhook_timeout``: delivery retries.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = "dustpan_test_bot",
        first_name: str = "Dustpan",
        flood_limit: tuple[int, float] | None = None,
        callback_query_ttl: float = 15.0,
        close_cooldown: float = 600.0,
        webhook_retry_delay: float = 0.1,
        webhook_max_retry_delay: float = 2.0,
        webhook_timeout: float = 10.0,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.first_name = first_name
        self.flood_limit = flood_limit
        self.callback_query_ttl = callback_query_ttl
        self.close_cooldown = close_cooldown
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_max_retry_delay = webhook_max_retry_delay
        self.webhook_timeout = webhook_timeout

        self.url = ""
        self.calls: list[Call] = []
        self.files: dict[str, StoredFile] = {}  # file_id -> file (every photo size has its own id)
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.dropped_updates: list[JSONDict] = []  # filtered out by allowed_updates
        self.menu_buttons: dict[int | None, JSONDict] = {}  # chat_id (None = default) -> MenuButton
        self._commands: dict[tuple[tuple[Any, ...], str], list[JSONDict]] = {}
        self._chats: dict[int, _Chat] = {}
        self._inline_queries: dict[str, JSONDict] = {}  # id -> {"user", "query", "answer"}
        self._inline_messages: dict[str, tuple[_Chat, int]] = {}  # inline_message_id -> where it is
        self._chat_members: dict[tuple[int | str, int], str] = {}  # (chat, user) -> status
        self._callbacks: dict[str, _CallbackQuery] = {}
        self._queue: list[JSONDict] = []  # unconfirmed updates, oldest first
        self._next_update_id = 100_000
        self._query_ids = itertools.count(4_000_000_000_000_000_000)
        self._file_counter = itertools.count(1)
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._allowed_updates_explicit: list[str] | None = None
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._poller: dict[str, Any] | None = None  # the getUpdates request currently waiting
        self._injected: dict[str, deque[ApiError]] = {}
        self._cursor = 0
        self._chat_cursors: dict[int | str, int] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._logged_out = False
        self._started_at = time.monotonic()
        self._runner: web.AppRunner | None = None
        self._methods = {
            name[len("_api_") :].lower(): name[len("_api_") :]
            for name in dir(self)
            if name.startswith("_api_")
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeBotAPI:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._started_at = time.monotonic()
        return self

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        await self._stop_webhook_task()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def env(self, token_var: str | None = "BOT_TOKEN", **extra: str) -> dict[str, str]:
        """Environment for a bot subprocess talking to this fake."""
        env = {"TELEGRAM_API_URL": self.url, **extra}
        if token_var:
            env[token_var] = self.token
        return env

    def make_bot(self, **kwargs: Any) -> Any:
        """A real aiogram Bot whose session talks to this fake (caller closes bot.session)."""
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        class LocalSession(AiohttpSession):
            async def close(self) -> None:  # skip the 250 ms SSL-shutdown grace sleep: plain HTTP here
                if self._session is not None and not self._session.closed:
                    await self._session.close()

        return Bot(self.token, session=LocalSession(api=TelegramAPIServer.from_base(self.url)), **kwargs)

    # ------------------------------------------------------------------ test-side helpers

    def bot_user(self) -> JSONDict:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> FakeUser:
        """The user with this id (created on first use; the private chat id equals the user id)."""
        if user_id in self._chats:
            return self._chats[user_id].user
        user = FakeUser(self, user_id, first_name, last_name, username, language_code)
        self._chats[user_id] = _Chat(user=user)
        return user

    def group(self, chat_id: int, title: str = "Group") -> FakeGroup:
        """The group with this (negative) id, the bot a member of it (created on first use)."""
        if chat_id in self._chats:
            return self._chats[chat_id].user  # type: ignore[return-value]
        group = FakeGroup(self, chat_id, title)
        self._chats[chat_id] = _Chat(user=group)  # type: ignore[arg-type]
        self._chat_members[(chat_id, self.bot_id)] = "member"
        return group

    def set_chat_member(self, chat_id: int | str, user_id: int, status: str) -> None:
        """What getChatMember says (creator, administrator, member, restricted, left, kicked)."""
        self._chat_members[(chat_id, user_id)] = status

    def inline_answer(self, update: JSONDict) -> JSONDict | None:
        """Params of answerInlineQuery for an update from ``inline_query()`` (None if unanswered)."""
        return copy.deepcopy(self._inline_queries[update["inline_query"]["id"]]["answer"])

    def inline_message(self, inline_message_id: str) -> ChatMessage:
        chat, message_id = self._inline_messages[inline_message_id]
        return ChatMessage(copy.deepcopy(chat.messages[message_id]))

    def messages(self, chat_id: int, *, include_user: bool = False) -> list[ChatMessage]:
        """Messages on screen in the chat, oldest first, current content (deleted ones gone)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [
            ChatMessage(copy.deepcopy(m))
            for mid, m in sorted(chat.messages.items())
            if mid not in chat.deleted and (include_user or m["from"]["is_bot"])
        ]

    def last_message(self, chat_id: int) -> ChatMessage | None:
        shown = self.messages(chat_id)
        return shown[-1] if shown else None

    def reply_keyboard(self, chat_id: int) -> JSONDict | None:
        """The custom reply keyboard currently shown in the chat (ReplyKeyboardMarkup JSON)."""
        return copy.deepcopy(self._chats[chat_id].reply_keyboard)

    def callback_answer(self, update_or_query_id: JSONDict | str) -> JSONDict | None:
        """Params of answerCallbackQuery for this tap (an update from tap()), None if unanswered."""
        if isinstance(update_or_query_id, str):
            query_id = update_or_query_id
        else:
            query_id = update_or_query_id["callback_query"]["id"]
        return self._callbacks[query_id].answer

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict] | None:
        """Commands stored by setMyCommands for exactly this scope+language (None if never set)."""
        found = self._commands.get((self._scope_key(scope or {"type": "default"}), language_code))
        return copy.deepcopy(found)

    def visible_commands(self, user: FakeUser | int) -> list[JSONDict]:
        """The command menu a user sees in the private chat (Bot API scope/language fallback)."""
        user = user if isinstance(user, FakeUser) else self._chats[user].user
        lang = user.language_code or ""
        for scope in (("chat", user.id), ("all_private_chats",), ("default",)):
            for code in dict.fromkeys((lang, "")):
                if (scope, code) in self._commands:
                    return copy.deepcopy(self._commands[(scope, code)])
        return []

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook else None

    @property
    def pending_updates(self) -> list[JSONDict]:
        return copy.deepcopy(self._queue)

    def set_flood_limit(self, max_writes: int | None, per_seconds: float = 1.0) -> None:
        """Enable (or with None disable) per-chat flood control."""
        self.flood_limit = None if max_writes is None else (max_writes, per_seconds)

    def fail_next(
        self,
        method: str,
        error_code: int = 500,
        description: str = "Internal Server Error",
        *,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this error (e.g. 502, 429)."""
        params = {"retry_after": retry_after} if retry_after is not None else {}
        queue = self._injected.setdefault(method.lower(), deque())
        queue.extend(ApiError(error_code, description, **params) for _ in range(times))

    def mark(self) -> int:
        """A position in the call log, for ``wait_for(..., since=mark)``."""
        return len(self.calls)

    def find_calls(
        self,
        method: str | Collection[str] | None = None,
        chat_id: int | None = None,
        *,
        ok: bool | None = None,
    ) -> list[Call]:
        return [c for c in self.calls if self._matches(c, method, chat_id, None, ok)]

    async def wait_for(
        self,
        method: str | Collection[str],
        chat_id: int | str | None = None,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
        *,
        since: int | None = None,
        ok: bool | None = True,
    ) -> Call:
        """Wait for a matching call newer than a cursor and return it.

        Without ``since`` the cursor is per chat (or global when ``chat_id`` is None): a user action
        (send/tap/...) moves it to "now", and each successful wait moves it past the call returned,
        so ``await u.send("/start"); await api.wait_for("sendMessage", chat_id=u.id)`` returns the
        reply even if the bot answered before wait_for was called, and two waits return two calls.
        ``ok=True`` (default) only matches successful calls (failed ones are listed on timeout);
        ``ok=None`` matches any. getUpdates calls match on arrival (they're long polls).
        """
        key = chat_id
        if since is not None:
            start = since
        else:
            start = self._chat_cursors.get(key, 0) if key is not None else self._cursor
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for call in self.calls[start:]:
                if self._matches(call, method, chat_id, predicate, ok):
                    if since is None:
                        if key is not None:
                            self._chat_cursors[key] = call.index + 1
                        else:
                            self._cursor = call.index + 1
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(method, chat_id, start, timeout))
            await self._wait_change(remaining)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` holds; re-checked whenever the fake's state changes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            await self._wait_change(remaining)

    def ready_when(self, method: str = "getUpdates", **kwargs: Any) -> Callable[[], Any]:
        """A readiness probe for BotProcess.start: waits for ``method`` called after this point."""
        since = self.mark()
        # BotProcess.start's own timeout is the limit: a loaded machine may take over 10 s to start.
        kwargs.setdefault("timeout", 600.0)
        return lambda: self.wait_for(method, since=since, ok=None, **kwargs)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if request.match_info["token"] != self.token or stored is None:
            return await self._handle_unknown(request)
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    async def _handle_method(self, request: web.Request) -> web.Response:
        try:
            raw, files = await self._read_params(request)
        except web.HTTPRequestEntityTooLarge:
            body = {"ok": False, "error_code": 413, "description": "Request Entity Too Large"}
            return web.json_response(body, status=413)
        except ApiError as e:
            return web.json_response(e.payload(), status=e.code)
        status, body = await self._execute(
            request.match_info["token"], request.match_info["method"], raw, files
        )
        return web.json_response(body, status=status)

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
        raw: JSONDict = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON encoded request") from None
                if isinstance(body, dict):
                    raw.update(body)
            else:
                for name, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        files[name] = UploadedFile(value.filename, value.file.read(), value.content_type)
                    else:
                        raw[name] = value
        return raw, files

    async def _execute(
        self, token: str, method: str, raw: JSONDict, files: dict[str, UploadedFile], source: str = "http"
    ) -> tuple[int, JSONDict]:
        canonical = self._methods.get(method.lower())
        call = Call(
            method=canonical or method,
            params=dict(raw),
            time=time.time(),
            index=len(self.calls),
            source=source,
        )
        self.calls.append(call)
        self._notify()
        try:
            if token != self.token or self._logged_out:
                raise ApiError(401, "Unauthorized")
            if canonical is None:
                raise ApiError(404, "Not Found")
            call.params = params = self._decode_params(raw, files)
            call.chat_id = params.get("chat_id")
            if canonical == "answerCallbackQuery" and (
                query := self._callbacks.get(params.get("callback_query_id"))
            ):
                call.chat_id = query.chat_id
            injected = self._injected.get(canonical.lower())
            if injected:
                raise injected.popleft()
            result = await getattr(self, f"_api_{canonical}")(params)
            if isinstance(result, _Described):
                body: JSONDict = {"ok": True, "result": result.result, "description": result.description}
            else:
                body = {"ok": True, "result": result}
            call.status = 200
        except ApiError as e:
            call.status, body = e.code, e.payload()
        except asyncio.CancelledError:  # the client hung up (e.g. a long poll of a stopped bot)
            call.status = 499
            call.response = {"ok": False, "error_code": 499, "description": "client closed the connection"}
            self._notify()
            raise
        call.response = body
        self._notify()
        return call.status, body

    def _decode_params(self, raw: JSONDict, files: dict[str, UploadedFile]) -> JSONDict:
        params: JSONDict = {}
        unused = dict(files)
        for name, value in raw.items():
            if name in FILE_FIELDS and isinstance(value, str) and value.startswith("attach://"):
                part = files.get(value[len("attach://") :])
                if part is None:
                    raise bad_request("wrong file identifier/HTTP URL specified")
                unused.pop(value[len("attach://") :], None)
                value = part
            params[name] = _decode_param(name, value)
        params.update(unused)  # files uploaded directly under the parameter name
        return params

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float | None) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def _matches(
        self,
        call: Call,
        method: str | Collection[str] | None,
        chat_id: int | str | None,
        predicate: Callable[[Call], bool] | None,
        ok: bool | None,
    ) -> bool:
        if method is not None:
            names = (method,) if isinstance(method, str) else tuple(method)
            if call.method not in names:
                return False
        if chat_id is not None and call.chat_id != chat_id:
            return False
        if call.response is None and call.method != "getUpdates":
            return False
        if ok is not None and call.response is not None and call.ok != ok:
            return False
        return predicate is None or bool(predicate(call))

    def _timeout_report(self, method: Any, chat_id: Any, start: int, timeout: float) -> str:
        lines = [
            f"no {method!r} call"
            + (f" for chat {chat_id}" if chat_id is not None else "")
            + f" within {timeout}s; calls since cursor #{start}:"
        ]
        recent = [c for c in self.calls[start:] if c.method != "getUpdates" or not c.ok or c.result]
        lines += [f"  {c!r}" for c in recent[-20:]] or ["  (none)"]
        if self.dropped_updates:
            lines.append(
                f"  note: {len(self.dropped_updates)} update(s) dropped by allowed_updates "
                f"{sorted(self._allowed_updates)}"
            )
        if self._queue:
            lines.append(f"  note: {len(self._queue)} update(s) still unconfirmed in the queue")
        return "\n".join(lines)

    # ------------------------------------------------------------------ updates

    def _next_query_id(self) -> int:
        return next(self._query_ids)

    async def _enqueue(self, kind: str, payload: JSONDict, user: FakeUser) -> JSONDict:
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        position = len(self.calls)
        self._cursor = position
        self._chat_cursors[user.id] = position
        if kind in self._allowed_updates:
            self._queue.append(update)
        else:
            self.dropped_updates.append(update)
        self._notify()
        return copy.deepcopy(update)

    def _set_allowed_updates(self, value: Any) -> None:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request("can't parse allowed_updates JSON object")
        self._allowed_updates_explicit = value or None
        self._allowed_updates = frozenset(value) & ALL_UPDATE_TYPES if value else DEFAULT_UPDATE_TYPES

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset > 0:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        else:
            self._queue = self._queue[offset:]

    def _terminate_poller(self, reason: str) -> None:
        if self._poller is not None:
            self._poller["terminated"] = reason
            self._notify()

    async def _api_getUpdates(self, p: JSONDict) -> list[JSONDict]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in p:
            self._set_allowed_updates(p["allowed_updates"])
        self._confirm(p.get("offset"))
        limit = min(max(p.get("limit") or 100, 1), 100)
        timeout = max(p.get("timeout") or 0, 0)
        self._terminate_poller(
            "Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running"
        )
        me: dict[str, Any] = {"terminated": None}
        self._poller = me
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                if me["terminated"]:
                    raise ApiError(409, me["terminated"])
                if self._queue or self._closing:
                    return copy.deepcopy(self._queue[:limit])
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return []
                await self._wait_change(remaining)
        finally:
            if self._poller is me:
                self._poller = None

    # ------------------------------------------------------------------ webhook

    async def _api_setWebhook(self, p: JSONDict) -> _Described:
        url = p.get("url") or ""
        if not url:
            return await self._api_deleteWebhook(p)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token") or None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = p.get("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        if "allowed_updates" in p:
            self._set_allowed_updates(p["allowed_updates"])
        if p.get("drop_pending_updates"):
            self._queue.clear()
        new = _Webhook(url, secret, max_connections, p.get("ip_address"))
        unchanged = new == self._webhook
        self._webhook = new
        self._terminate_poller("Conflict: terminated by setWebhook request")
        await self._stop_webhook_task()
        self._webhook_task = asyncio.create_task(self._deliver_loop())
        return _Described(True, "Webhook is already set" if unchanged else "Webhook was set")

    async def _api_deleteWebhook(self, p: JSONDict) -> _Described:
        if p.get("drop_pending_updates"):
            self._queue.clear()
        was_set = self._webhook is not None
        self._webhook = None
        await self._stop_webhook_task()
        return _Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _api_getWebhookInfo(self, p: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            if self._webhook.ip_address:
                info["ip_address"] = self._webhook.ip_address
            if self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        if self._allowed_updates_explicit:
            info["allowed_updates"] = list(self._allowed_updates_explicit)
        return info

    async def _stop_webhook_task(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_loop(self) -> None:
        """POST queued updates to the webhook one at a time, in order; retry failures with backoff."""
        delay = self.webhook_retry_delay
        async with aiohttp.ClientSession() as session:
            while (
                self._webhook is not None
                and not self._closing
                and self._webhook_task is asyncio.current_task()
            ):
                if not self._queue:
                    await self._wait_change(None)
                    continue
                hook, update = self._webhook, self._queue[0]
                headers = {"Content-Type": "application/json"}
                if hook.secret_token:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
                delivery = WebhookDelivery(update["update_id"], hook.url, time.time(), None, None)
                reply: tuple[str, JSONDict, dict[str, UploadedFile]] | None = None
                try:
                    timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
                    async with session.post(
                        hook.url, data=json.dumps(update), headers=headers, timeout=timeout
                    ) as resp:
                        delivery.status = resp.status
                        if 200 <= resp.status < 300:
                            reply = await self._read_webhook_reply(resp)
                        else:
                            delivery.error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
                except (aiohttp.ClientError, TimeoutError, OSError) as e:
                    delivery.error = (
                        "Connection refused"
                        if isinstance(e, aiohttp.ClientConnectorError)
                        else (f"Connection failed: {type(e).__name__}")
                    )
                self.webhook_deliveries.append(delivery)
                if delivery.error is None:
                    self._queue = [u for u in self._queue if u["update_id"] != update["update_id"]]
                    delay = self.webhook_retry_delay
                    if reply is not None:
                        delivery.reply_method = reply[0]
                        await self._execute(self.token, *reply, source="webhook-reply")
                    self._notify()
                else:
                    self._webhook_error = (int(time.time()), delivery.error)
                    self._notify()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.webhook_max_retry_delay)

    async def _read_webhook_reply(self, resp: aiohttp.ClientResponse) -> tuple[str, JSONDict, dict] | None:
        """A method call the bot put in its webhook response (JSON, urlencoded or multipart)."""
        fields: JSONDict = {}
        files: dict[str, UploadedFile] = {}
        ctype = resp.content_type
        if ctype == "multipart/form-data":
            reader = aiohttp.MultipartReader.from_response(resp)
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
                    continue
                data = await part.read(decode=True)
                if part.filename:
                    files[part.name] = UploadedFile(
                        part.filename, bytes(data), part.headers.get("Content-Type")
                    )
                else:
                    fields[part.name] = bytes(data).decode()
        elif ctype == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qsl

            fields = dict(parse_qsl((await resp.read()).decode(), keep_blank_values=True))
        else:
            with contextlib.suppress(ValueError):
                body = json.loads(await resp.read() or b"null")
                fields = body if isinstance(body, dict) else {}
        method = fields.pop("method", None)
        return (method, fields, files) if isinstance(method, str) and method else None

    # ------------------------------------------------------------------ chats & messages

    def _chat(self, p: JSONDict, *, write: bool = True) -> _Chat:
        chat_id = p.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        if write and chat.blocked:
            raise forbidden("bot was blocked by the user")
        return chat

    def _check_flood(self, chat: _Chat) -> None:
        if not self.flood_limit:
            return
        limit, window = self.flood_limit
        now = time.monotonic()
        while chat.recent_writes and chat.recent_writes[0] <= now - window:
            chat.recent_writes.popleft()
        if len(chat.recent_writes) >= limit:
            raise too_many_requests(max(1, math.ceil(chat.recent_writes[0] + window - now)))
        chat.recent_writes.append(now)

    def _formatted(
        self, p: JSONDict, field_name: str, entities_field: str, *, limit: int, required: bool
    ) -> tuple[str, list[JSONDict]]:
        text = p.get(field_name)
        if text is None:
            text = ""
        if not isinstance(text, str):
            text = str(text)
        entities = p.get(entities_field)
        if entities is not None and not isinstance(entities, list):
            raise bad_request("can't parse entities JSON object")
        try:
            plain, found = format_text(text, p.get("parse_mode"), entities)
        except EntityParseError as e:
            raise bad_request(f"can't parse entities: {e}") from None
        except ValueError:
            raise bad_request("unsupported parse_mode") from None
        if required and not plain:
            raise bad_request("message text is empty")
        if u16len(plain) > limit:
            raise bad_request(
                "message is too long" if field_name == "text" else "message caption is too long"
            )
        return plain, found

    def _parse_markup(self, markup: Any, *, inline_only: bool = False) -> tuple[str, JSONDict | None]:
        """Validate reply_markup → ("inline", keyboard-or-None) | ("keyboard"/"remove"/"force", markup)."""
        if markup is None:
            return ("none", None)
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "inline_keyboard" must be of type Array'
                )
            count = 0
            for row in rows:
                for button in row:
                    self._check_inline_button(button)
                    count += 1
            if count > 100:
                raise bad_request("REPLY_MARKUP_TOO_LONG")
            rows = [list(r) for r in rows if r]
            return ("inline", {"inline_keyboard": rows} if rows else None)
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request('can\'t parse keyboard button: Field "keyboard" must be of type Array')
            for button in (b for row in rows for b in row):
                text = button if isinstance(button, str) else (button or {}).get("text")
                if not isinstance(text, str) or not text:
                    raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
            return ("keyboard", markup)
        if markup.get("remove_keyboard") is True:
            return ("remove", markup)
        if markup.get("force_reply") is True:
            return ("force", markup)
        raise bad_request("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        if not isinstance(button.get("text"), str):
            raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
        actions = [a for a in BUTTON_ACTIONS if a in button]
        if not actions:
            raise bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
        if "web_app" in button:
            url = (button["web_app"] or {}).get("url") if isinstance(button["web_app"], dict) else None
            if not isinstance(url, str) or not url.startswith("https://"):
                raise bad_request("BUTTON_URL_INVALID")
        if "url" in button and not _button_url_ok(button["url"]):
            raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")

    def _reply_to(self, p: JSONDict, chat: _Chat) -> JSONDict | None:
        params = p.get("reply_parameters") if isinstance(p.get("reply_parameters"), dict) else {}
        target = params.get("message_id", p.get("reply_to_message_id"))
        if target is None:
            return None
        allow = params.get("allow_sending_without_reply", p.get("allow_sending_without_reply", False))
        message = chat.messages.get(target) if target not in chat.deleted else None
        if message is None:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return _without_reply(message)

    def _post(self, chat: _Chat, p: JSONDict, content: JSONDict) -> JSONDict:
        """Validate markup/reply, store a new bot message in the chat and return it."""
        kind, markup = self._parse_markup(p.get("reply_markup"))
        reply_to = self._reply_to(p, chat)
        self._check_flood(chat)
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: JSONDict = {
            "message_id": message_id,
            "from": self.bot_user(),
            "chat": chat.user.as_chat(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(content)
        if p.get("protect_content"):
            message["has_protected_content"] = True
        if kind == "inline" and markup:
            message["reply_markup"] = markup
        elif kind == "keyboard":
            chat.reply_keyboard = markup
        elif kind == "remove":
            chat.reply_keyboard = None
        chat.messages[message_id] = message
        return copy.deepcopy(message)

    def _editable(self, p: JSONDict) -> tuple[_Chat, JSONDict]:
        if p.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # no inline mode in this fake
        chat = self._chat(p)
        message_id = p.get("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message_id in chat.deleted:
            raise bad_request("message to edit not found")
        if not message["from"]["is_bot"]:
            raise bad_request("message can't be edited")
        return chat, message

    def _apply_edit(
        self, chat: _Chat, message: JSONDict, changes: JSONDict, markup: JSONDict | None
    ) -> JSONDict:
        """Apply an edit, or fail with "message is not modified" when nothing would change."""
        before = {k: message.get(k) for k in changes} | {"reply_markup": message.get("reply_markup")}
        after = dict(changes) | {"reply_markup": markup}
        normalize = {k: (v or None) for k, v in before.items()}
        if normalize == {k: (v or None) for k, v in after.items()}:
            raise bad_request(NOT_MODIFIED)
        self._check_flood(chat)
        for key, value in after.items():
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    async def _api_sendMessage(self, p: JSONDict) -> JSONDict:
        chat = self._chat(p)
        text, entities = self._formatted(p, "text", "entities", limit=4096, required=True)
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._post(chat, p, content)

    async def _api_editMessageText(self, p: JSONDict) -> JSONDict | bool:
        if p.get("inline_message_id"):
            return self._edit_inline(p)
        chat, message = self._editable(p)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(p, "text", "entities", limit=4096, required=True)
        _, markup = self._parse_markup(p.get("reply_markup"), inline_only=True)
        return self._apply_edit(chat, message, {"text": text, "entities": entities}, markup)

    async def _api_editMessageCaption(self, p: JSONDict) -> JSONDict:
        chat, message = self._editable(p)
        if "text" in message:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self._formatted(p, "caption", "caption_entities", limit=1024, required=False)
        _, markup = self._parse_markup(p.get("reply_markup"), inline_only=True)
        return self._apply_edit(chat, message, {"caption": caption, "caption_entities": entities}, markup)

    async def _api_editMessageMedia(self, p: JSONDict) -> JSONDict:
        """Photo and document media only (what a bot here sends); a text message gains the media,
        as the Bot API allows, and loses its text."""
        chat, message = self._editable(p)
        media = p.get("media")
        if not isinstance(media, dict) or media.get("type") not in ("photo", "document"):
            raise bad_request("can't parse InputMedia JSON object")
        kind, ref = media["type"], media.get("media")
        if isinstance(ref, str) and ref.startswith("attach://"):
            ref = p.get(ref[len("attach://") :])
            if not isinstance(ref, UploadedFile):
                raise bad_request("wrong file identifier/HTTP URL specified")
        existing, data, filename, mime = await self._input_file(ref, kind)
        if existing is None:
            if not data:
                raise bad_request("file must be non-empty")
            if kind == "photo":
                size = image_size(data)
                if size is None:
                    raise bad_request("IMAGE_PROCESS_FAILED")
                existing = self._store_file("photo", data, mime_type=mime, width=size[0], height=size[1])
            else:
                existing = self._store_file("document", data, filename=filename, mime_type=mime)
        caption, entities = self._formatted(
            {**media, "parse_mode": media.get("parse_mode", p.get("parse_mode"))},
            "caption",
            "caption_entities",
            limit=1024,
            required=False,
        )
        _, markup = self._parse_markup(p.get("reply_markup"), inline_only=True)
        content = self._photo_sizes(existing) if kind == "photo" else self._document_json(existing)
        for key in ("text", "entities", "photo", "document"):
            message.pop(key, None)
        changes = {kind: content, "caption": caption, "caption_entities": entities}
        return self._apply_edit(chat, message, changes, markup)

    async def _api_editMessageReplyMarkup(self, p: JSONDict) -> JSONDict:
        chat, message = self._editable(p)
        _, markup = self._parse_markup(p.get("reply_markup"), inline_only=True)
        return self._apply_edit(chat, message, {}, markup)

    async def _api_deleteMessage(self, p: JSONDict) -> bool:
        chat = self._chat(p, write=False)
        message_id = p.get("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        if message_id not in chat.messages or message_id in chat.deleted:
            raise bad_request("message to delete not found")
        chat.deleted.add(message_id)
        return True

    async def _api_answerCallbackQuery(self, p: JSONDict) -> bool:
        query = self._callbacks.get(p.get("callback_query_id", ""))
        if (
            query is None
            or query.answer is not None
            or time.monotonic() - query.created > self.callback_query_ttl
        ):
            raise bad_request(QUERY_TOO_OLD)
        if len(p.get("text") or "") > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answer = {k: v for k, v in p.items() if k != "callback_query_id"}
        return True

    async def _api_sendChatAction(self, p: JSONDict) -> bool:
        self._chat(p)
        if p.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    # ------------------------------------------------------------------ files

    def _store_file(
        self,
        kind: str,
        data: bytes,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        n = next(self._file_counter)
        if kind == "photo":
            ext = {"image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}.get(
                mime_type or "", ".jpg"
            )
        else:
            ext = mimetypes.guess_extension(mime_type or "") or (
                "." + filename.rsplit(".", 1)[1] if filename and "." in filename else ""
            )
        stored = StoredFile(
            file_id=f"FAKE{kind[:3].upper()}{n:06d}{secrets.token_hex(6)}",
            file_unique_id=f"U{n:06d}{secrets.token_hex(3)}",
            kind=kind,
            data=data,
            file_path=f"{kind}s/file_{n}{ext}",
            filename=filename,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        return stored

    def _photo_sizes(self, stored: StoredFile) -> list[JSONDict]:
        """PhotoSize list like Telegram's (thumbnails + original); every size serves the same bytes."""
        w, h = stored.width, stored.height
        sizes: list[JSONDict] = []
        for limit in (90, 320, 800, 1280, 2560):
            scale = min(1.0, limit / max(w, h))
            size_id = stored.file_id if scale == 1.0 else f"{stored.file_id}_{limit}"
            if size_id != stored.file_id:
                self.files[size_id] = stored
            sizes.append(
                {
                    "file_id": size_id,
                    "file_unique_id": f"{stored.file_unique_id}{limit}",
                    "file_size": len(stored.data),
                    "width": max(1, round(w * scale)),
                    "height": max(1, round(h * scale)),
                }
            )
            if scale == 1.0:
                break
        return sizes

    @staticmethod
    def _document_json(stored: StoredFile) -> JSONDict:
        doc: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if stored.filename:
            doc["file_name"] = stored.filename
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        return doc

    async def _input_file(
        self, value: Any, kind: str
    ) -> tuple[StoredFile | None, bytes, str | None, str | None]:
        """Resolve photo/document input → (existing file or None, bytes, filename, mime type)."""
        if isinstance(value, UploadedFile):
            return None, value.data, value.filename, value.content_type
        if isinstance(value, str) and value:
            if value in self.files:
                existing = self.files[value]
                if existing.kind != kind:
                    raise bad_request(f"can't use file of type {existing.kind.title()} as {kind.title()}")
                return existing, existing.data, existing.filename, existing.mime_type
            if value.startswith(("http://", "https://")):
                try:
                    async with aiohttp.ClientSession() as session, session.get(value) as resp:
                        if resp.status != 200:
                            raise bad_request("failed to get HTTP URL content")
                        data = await resp.read()
                        name = urlsplit(value).path.rsplit("/", 1)[-1] or None
                        return None, data, name, resp.content_type
                except (aiohttp.ClientError, OSError):
                    raise bad_request("failed to get HTTP URL content") from None
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {kind} in the request")

    def _caption(self, p: JSONDict) -> JSONDict:
        caption, entities = self._formatted(p, "caption", "caption_entities", limit=1024, required=False)
        content: JSONDict = {}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return content

    async def _api_sendPhoto(self, p: JSONDict) -> JSONDict:
        chat = self._chat(p)
        existing, data, _, _ = await self._input_file(p.get("photo"), "photo")
        caption = self._caption(p)
        if existing is None:
            if not data:
                raise bad_request("file must be non-empty")
            if len(data) > 10 * 1024 * 1024:
                raise bad_request("PHOTO_SAVE_FILE_INVALID")
            size = image_size(data)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            w, h = size
            if w + h > 10000 or max(w, h) > 20 * min(w, h):
                raise bad_request("PHOTO_INVALID_DIMENSIONS")
            mime = {b"\x89P": "image/png", b"GI": "image/gif", b"RI": "image/webp"}.get(
                data[:2], "image/jpeg"
            )
            existing = self._store_file("photo", data, mime_type=mime, width=w, height=h)
        content = {"photo": self._photo_sizes(existing), **caption}
        if p.get("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._post(chat, p, content)

    async def _api_sendDocument(self, p: JSONDict) -> JSONDict:
        chat = self._chat(p)
        existing, data, filename, mime = await self._input_file(p.get("document"), "document")
        caption = self._caption(p)
        if existing is None:
            if not data:
                raise bad_request("file must be non-empty")
            guessed = mimetypes.guess_type(filename or "")[0]
            mime = guessed or (mime if mime and mime != "application/octet-stream" else None)
            mime = mime or "application/octet-stream"
            existing = self._store_file("document", data, filename=filename, mime_type=mime)
        return self._post(chat, p, {"document": self._document_json(existing), **caption})

    async def _api_getFile(self, p: JSONDict) -> JSONDict:
        file_id = p.get("file_id") or ""
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > 20 * 1024 * 1024:
            raise bad_request("file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    # ------------------------------------------------------------------ bot settings & misc

    async def _api_getMe(self, p: JSONDict) -> JSONDict:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _scope_key(self, scope: Any) -> tuple[Any, ...]:
        if not isinstance(scope, dict) or scope.get("type") not in COMMAND_SCOPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind not in ("chat", "chat_administrators", "chat_member"):
            return (kind,)
        chat_id = _decode_param("chat_id", scope.get("chat_id"))
        if chat_id not in self._chats:
            raise bad_request("chat not found")
        if kind == "chat_member":
            return (kind, chat_id, _decode_param("user_id", scope.get("user_id")))
        return (kind, chat_id)

    def _commands_key(self, p: JSONDict) -> tuple[tuple[Any, ...], str]:
        language_code = p.get("language_code") or ""
        if language_code and not re.fullmatch(r"[a-z]{2}", language_code):
            raise bad_request("LANG_CODE_INVALID")
        return self._scope_key(p.get("scope") or {"type": "default"}), language_code

    async def _api_setMyCommands(self, p: JSONDict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        stored = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name, "description": description})
        key = self._commands_key(p)
        if stored:
            self._commands[key] = stored
        else:
            self._commands.pop(key, None)
        return True

    async def _api_getMyCommands(self, p: JSONDict) -> list[JSONDict]:
        return copy.deepcopy(self._commands.get(self._commands_key(p), []))

    async def _api_deleteMyCommands(self, p: JSONDict) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True

    async def _api_setChatMenuButton(self, p: JSONDict) -> bool:
        chat_id = self._chat(p, write=False).user.id if p.get("chat_id") is not None else None
        button = p.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
            raise bad_request("can't parse menu button JSON object")
        if button["type"] == "web_app":
            url = (button.get("web_app") or {}).get("url", "")
            if not button.get("text") or not str(url).startswith("https://"):
                raise bad_request("BUTTON_URL_INVALID")
        self.menu_buttons[chat_id] = button
        return True

    async def _api_getChatMenuButton(self, p: JSONDict) -> JSONDict:
        chat_id = self._chat(p, write=False).user.id if p.get("chat_id") is not None else None
        return copy.deepcopy(
            self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "commands"}
        )

    async def _api_close(self, p: JSONDict) -> bool:
        remaining = self.close_cooldown - (time.monotonic() - self._started_at)
        if remaining > 0:
            raise too_many_requests(math.ceil(remaining))
        return True

    async def _api_logOut(self, p: JSONDict) -> bool:
        self._logged_out = True  # every later request answers 401, as the cloud API would
        return True

    # ------------------------------------------------------------------ inline mode, members

    async def _api_answerInlineQuery(self, p: JSONDict) -> bool:
        query = self._inline_queries.get(str(p.get("inline_query_id", "")))
        if query is None or query["answer"] is not None:
            raise bad_request(QUERY_TOO_OLD)
        results = p.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH" if isinstance(results, list) else "can't parse results")
        ids = [r.get("id") for r in results if isinstance(r, dict)]
        if len(ids) != len(results) or len(set(ids)) != len(ids):
            raise bad_request("RESULT_ID_DUPLICATE")
        for r in results:
            if not isinstance(r["id"], str) or not 1 <= len(r["id"].encode()) <= 64:
                raise bad_request("RESULT_ID_INVALID")
            if r.get("reply_markup") is not None:
                self._parse_markup(r["reply_markup"], inline_only=True)
            content = r.get("input_message_content") or {}
            if r.get("type") == "article" and not content.get("message_text"):
                raise bad_request("MESSAGE_EMPTY")
        button = p.get("button")
        if button is not None and not (isinstance(button, dict) and button.get("text")):
            raise bad_request("can't parse inline query results button")
        query["answer"] = {k: v for k, v in p.items() if k != "inline_query_id"} | {"query": query["query"]}
        return True

    def _edit_inline(self, p: JSONDict) -> bool:
        where = self._inline_messages.get(str(p["inline_message_id"]))
        if where is None:
            raise bad_request("MESSAGE_ID_INVALID")
        chat, message_id = where
        text, entities = self._formatted(p, "text", "entities", limit=4096, required=True)
        _, markup = self._parse_markup(p.get("reply_markup"), inline_only=True)
        self._apply_edit(chat, chat.messages[message_id], {"text": text, "entities": entities}, markup)
        return True  # Telegram answers True for an inline message

    async def _api_getChatMember(self, p: JSONDict) -> JSONDict:
        chat_id, user_id = p.get("chat_id"), p.get("user_id")
        if chat_id is None or chat_id == "" or user_id is None:
            raise bad_request("chat_id is empty" if not chat_id else "user_id is empty")
        known = isinstance(chat_id, int) and chat_id in self._chats
        if not known and not any(c == chat_id for c, _u in self._chat_members):
            raise bad_request("chat not found")
        status = self._chat_members.get((chat_id, user_id), "left")
        user = (
            self.bot_user()
            if user_id == self.bot_id
            else {"id": user_id, "is_bot": False, "first_name": "User"}
        )
        member: JSONDict = {"status": status, "user": user}
        if status == "administrator":
            member |= {"can_be_edited": False, "is_anonymous": False} | {
                name: True
                for name in (
                    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
                    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
                    "can_edit_stories", "can_delete_stories", "can_send_welcome_messages",
                )
            }  # fmt: skip
        elif status == "restricted":
            member |= {"is_member": True, "until_date": 0}
        elif status == "kicked":
            member |= {"until_date": 0}
        return member
