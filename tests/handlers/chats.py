"""Updates from places and senders other than a person's private chat: a group, a person
posting as their channel, an anonymous group admin, another bot, a message with no sender.

Telegram's fake senders: an anonymous admin's message comes ``from`` GroupAnonymousBot with
``sender_chat`` the group; a post on behalf of a channel ``from`` Channel_Bot with
``sender_chat`` the channel (Bot API, Message.sender_chat).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram.types import CallbackQuery, Message, MessageEntity, Update
from aiogram.types import Chat as TgChat
from aiogram.types import User as TgUser

from tests.handlers.harness import Sent

GROUP = TgChat(id=-1001234567890, type="supergroup", title="Dust lovers")
CHANNEL = TgChat(id=-1009876543210, type="channel", title="Dust news")
ANONYMOUS_ADMIN = TgUser(id=1087968824, is_bot=True, first_name="Group", username="GroupAnonymousBot")
CHANNEL_BOT = TgUser(id=136817688, is_bot=True, first_name="Channel", username="Channel_Bot")
OTHER_BOT = TgUser(id=5550001, is_bot=True, first_name="Spammy", username="spammy_bot")


def private_chat(user_id: int) -> TgChat:
    return TgChat(id=user_id, type="private")


def message_update(
    tg,
    text: str,
    *,
    chat: TgChat,
    from_user: TgUser | None,
    sender_chat: TgChat | None = None,
    message_id: int | None = None,
) -> Update:
    entities = None
    if text.startswith("/"):
        entities = [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))]
    msg = Message(
        message_id=message_id or tg.next_update_id(),
        date=datetime.now(UTC),
        chat=chat,
        from_user=from_user,
        sender_chat=sender_chat,
        text=text,
        entities=entities,
    )
    return Update(update_id=tg.next_update_id(), message=msg)


async def send_in_group(person, text: str, chat: TgChat = GROUP) -> list[Sent]:
    """``person`` types ``text`` in a group the bot is in."""
    return await person.tg.feed(message_update(person.tg, text, chat=chat, from_user=person.user))


async def tap_in_group(person, callback_data: str, chat: TgChat = GROUP) -> list[Sent]:
    """``person`` taps a button with ``callback_data`` on a bot message in a group."""
    tg = person.tg
    shown = Message(
        message_id=tg.next_update_id(),
        date=datetime.now(UTC),
        chat=chat,
        from_user=TgUser(id=tg.bot.id, is_bot=True, first_name="Dustpan"),
        text="menu",
    )
    cq = CallbackQuery(
        id=str(tg.next_update_id()),
        from_user=person.user,
        chat_instance="group-ci",
        data=callback_data,
        message=shown,
    )
    return await tg.feed(Update(update_id=tg.next_update_id(), callback_query=cq))
