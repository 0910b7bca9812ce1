"""Drive the production dispatcher (``build_dispatcher``) with real Updates.

``RecordingSession`` is an aiogram session that serialises every request the way
the real one does (so a malformed keyboard fails here too) and answers like the
Bot API would, but sends nothing. ``Chat`` plays one Telegram user.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageCaption,
    EditMessageMedia,
    EditMessageReplyMarkup,
    EditMessageText,
    GetChatMember,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    ChatMemberLeft,
    ChatMemberMember,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    PhotoSize,
    Update,
)
from aiogram.types import Chat as TgChat
from aiogram.types import User as TgUser

BOT_ID = 123456
BOT_TOKEN = f"{BOT_ID}:TEST-TOKEN"
BOT_USER = TgUser(id=BOT_ID, is_bot=True, first_name="Dustpan", username="dustpan_test_bot")


@dataclass
class Sent:
    method: str
    chat_id: int | None
    text: str | None
    markup: InlineKeyboardMarkup | None
    params: dict[str, Any]
    message_id: int | None = None

    def buttons(self) -> list[tuple[str, str | None]]:
        if self.markup is None:
            return []
        return [(b.text, b.callback_data or b.url) for row in self.markup.inline_keyboard for b in row]


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self._ids = itertools.count(1000)
        self.messages: dict[tuple[int, int], Message] = {}
        # getChatMember answers: (chat, user) -> status ("left" when absent); a chat in
        # ``unknown_chats`` is one the bot cannot see ("chat not found").
        self.chat_members: dict[tuple[int | str, int], str] = {}
        self.unknown_chats: set[int | str] = set()

    async def close(self) -> None:
        pass

    async def stream_content(self, *args, **kwargs):  # pragma: no cover - no files in these tests
        raise NotImplementedError
        yield b""

    async def make_request(self, bot: Bot, method: TelegramMethod, timeout: int | None = None) -> Any:
        files: dict[str, Any] = {}
        form = {  # the real encoding, so a malformed keyboard fails here too
            key: self.prepare_value(value, bot=bot, files=files)
            for key, value in method.model_dump(warnings=False).items()
        }
        name = method.__api_method__
        params = {k: v for k, v in method.model_dump().items() if v is not None}
        chat_id = params.get("chat_id")
        text = params.get("text") or params.get("caption") or (params.get("media") or {}).get("caption")
        markup = getattr(method, "reply_markup", None)
        record = Sent(
            name, chat_id, text, markup if isinstance(markup, InlineKeyboardMarkup) else None, params
        )
        record.params["_form"] = {k: v for k, v in form.items() if v is not None}
        record.params["_files"] = files
        self.sent.append(record)
        if isinstance(method, SendMessage | SendPhoto | SendDocument):
            msg = Message(
                message_id=next(self._ids),
                date=datetime.now(UTC),
                chat=TgChat(id=chat_id, type="private"),
                from_user=BOT_USER,
                text=text if isinstance(method, SendMessage) else None,
                caption=text if not isinstance(method, SendMessage) else None,
                photo=[PhotoSize(file_id="p", file_unique_id="p", width=1, height=1)]
                if isinstance(method, SendPhoto)
                else None,
                reply_markup=record.markup,
            )
            record.message_id = msg.message_id
            self.messages[(chat_id, msg.message_id)] = msg
            return msg
        if isinstance(method, GetChatMember):
            return self.chat_member(method.chat_id, method.user_id)
        if isinstance(method, EditMessageText) and params.get("inline_message_id"):
            return True  # an inline-mode message: Telegram answers True, the message is not the bot's
        if isinstance(method, EditMessageText | EditMessageReplyMarkup):
            key = (chat_id, params.get("message_id"))
            old = self.messages.get(key)
            if old is not None and _same(old, method, record.markup):
                raise TelegramBadRequest(method, NOT_MODIFIED)  # as Telegram answers a double tap
            record.message_id = params.get("message_id")
            msg = Message(
                message_id=params.get("message_id"),
                date=datetime.now(UTC),
                chat=TgChat(id=chat_id, type="private"),
                from_user=BOT_USER,
                text=text if isinstance(method, EditMessageText) else (old.text if old else None),
                reply_markup=record.markup,
            )
            self.messages[key] = msg
            return msg
        if isinstance(method, EditMessageCaption | EditMessageMedia):
            key = (chat_id, params.get("message_id"))
            record.message_id = params.get("message_id")
            old = self.messages.get(key)
            msg = Message(
                message_id=params.get("message_id"),
                date=datetime.now(UTC),
                chat=TgChat(id=chat_id, type="private"),
                from_user=BOT_USER,
                caption=text,
                photo=old.photo if old else None,
                reply_markup=record.markup,
            )
            self.messages[key] = msg
            return msg
        if isinstance(method, AnswerCallbackQuery | DeleteMessage):
            return True
        return True

    def chat_member(self, chat_id: int | str, user_id: int) -> Any:
        from aiogram.types import ChatMemberAdministrator

        if chat_id in self.unknown_chats:
            raise TelegramBadRequest(
                GetChatMember(chat_id=chat_id, user_id=user_id), "Bad Request: chat not found"
            )
        status = self.chat_members.get((chat_id, user_id), "left")
        user = TgUser(id=user_id, is_bot=user_id == BOT_ID, first_name="U")
        if status == "administrator":
            flags = {
                name: True
                for name, spec in ChatMemberAdministrator.model_fields.items()
                if name.startswith("can_") and spec.is_required()
            }
            return ChatMemberAdministrator(user=user, is_anonymous=False, **flags)
        if status == "member":
            return ChatMemberMember(user=user)
        return ChatMemberLeft(user=user)


NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


def _same(old: Message, method: EditMessageText | EditMessageReplyMarkup, markup) -> bool:
    text = method.text if isinstance(method, EditMessageText) else old.text
    before = old.reply_markup.model_dump() if old.reply_markup is not None else None
    after = markup.model_dump() if markup is not None else None
    return old.text == text and before == after


@dataclass
class Person:
    """One Telegram user talking to the bot through the real dispatcher."""

    tg: Any
    user_id: int
    first_name: str = "Alice"
    username: str | None = "alice"
    language_code: str | None = "en"
    _msg_ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def user(self) -> TgUser:
        return TgUser(
            id=self.user_id,
            is_bot=False,
            first_name=self.first_name,
            username=self.username,
            language_code=self.language_code,
        )

    async def send(self, text: str) -> list[Sent]:
        """Send a message; returns what the bot sent in reply."""
        entities = None
        if text.startswith("/"):
            entities = [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))]
        msg = Message(
            message_id=next(self._msg_ids),
            date=datetime.now(UTC),
            chat=TgChat(id=self.user_id, type="private"),
            from_user=self.user,
            text=text,
            entities=entities,
        )
        return await self.tg.feed(Update(update_id=self.tg.next_update_id(), message=msg))

    async def tap(self, callback_data: str, message: Sent | None = None) -> list[Sent]:
        """Tap an inline button (by its callback data) on a bot message (the last one by default)."""
        message = message or self.tg.last_with_buttons(self.user_id)
        shown = self.tg.session.messages.get((self.user_id, message.message_id))
        if shown is None:  # a tap forged from another chat's button: Telegram still names a message
            shown = Message(  # of the tapper's own chat, never none at all
                message_id=message.message_id or 1,
                date=datetime.now(UTC),
                chat=TgChat(id=self.user_id, type="private"),
                from_user=BOT_USER,
                text=message.text,
            )
        cq = CallbackQuery(
            id=str(self.tg.next_update_id()),
            from_user=self.user,
            chat_instance="ci",
            data=callback_data,
            message=shown,
        )
        return await self.tg.feed(Update(update_id=self.tg.next_update_id(), callback_query=cq))

    async def tap_button(self, text_part: str) -> list[Sent]:
        """Tap the newest button whose label contains ``text_part``. Usually it is on the last
        message with buttons; a prompt's ✖️ Cancel (handlers.common.prompts) may have come since,
        and the screen the user taps is still above it, as on a phone."""
        message = self.tg.last_with_buttons(self.user_id)
        for shown in [message, *reversed(self.tg.session.sent)]:
            if shown.chat_id != self.user_id or shown.markup is None or shown.method == "answerCallbackQuery":
                continue
            for text, data in shown.buttons():
                if text_part in text:
                    return await self.tap(data, shown)
        raise AssertionError(f"no button with {text_part!r} in {message.buttons()}")


class Telegram:
    """The dispatcher, a bot on a RecordingSession, and helpers to read what was sent."""

    def __init__(self, dp, bot: Bot, session: RecordingSession) -> None:
        self.dp, self.bot, self.session = dp, bot, session
        self._update_ids = itertools.count(1)

    def next_update_id(self) -> int:
        return next(self._update_ids)

    async def feed(self, update: Update) -> list[Sent]:
        before = len(self.session.sent)
        await self.dp.feed_update(self.bot, update)
        return self.session.sent[before:]

    def person(self, user_id: int, **kw) -> Person:
        return Person(self, user_id, **kw)

    def last_with_buttons(self, chat_id: int) -> Sent:
        for s in reversed(self.session.sent):
            if (
                s.chat_id == chat_id
                and s.markup is not None
                and s.method
                in (
                    "sendMessage",
                    "editMessageText",
                    "editMessageReplyMarkup",
                    "sendPhoto",
                    "editMessageCaption",
                    "editMessageMedia",
                )
            ):
                return s
        raise AssertionError("no message with buttons")


def texts(sent: list[Sent]) -> str:
    return "\n".join(s.text or "" for s in sent if s.text)


def dump(sent: list[Sent]) -> str:
    return json.dumps([(s.method, s.text) for s in sent], ensure_ascii=False, indent=1)
