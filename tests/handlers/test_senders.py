"""Every command, sent by something that is not a person: an anonymous group admin, a
channel, a bot, a message with no sender. One clear answer in a private chat, silence in a
group, never an error, and nothing recorded about the sender."""

import logging

import pytest
from aiogram.types import User as TgUser

from core.errors import DomainError
from core.identity import users
from core.platform import audit
from tests.handlers.chats import (
    ANONYMOUS_ADMIN,
    CHANNEL,
    CHANNEL_BOT,
    GROUP,
    OTHER_BOT,
    message_update,
    private_chat,
)
from tests.handlers.common.test_commands import answered_commands
from tests.handlers.harness import texts

TELEGRAM = TgUser(id=777000, is_bot=False, first_name="Telegram")  # a linked channel's forwarded post

SENDERS = {
    "anonymous group admin": dict(chat=GROUP, from_user=ANONYMOUS_ADMIN, sender_chat=GROUP),
    "channel in a group": dict(chat=GROUP, from_user=CHANNEL_BOT, sender_chat=CHANNEL),
    "linked channel's post": dict(chat=GROUP, from_user=TELEGRAM, sender_chat=CHANNEL),
    "bot in a group": dict(chat=GROUP, from_user=OTHER_BOT),
    "no sender in a group": dict(chat=GROUP, from_user=None),
    "bot in private": dict(chat=private_chat(OTHER_BOT.id), from_user=OTHER_BOT),
    "no sender in private": dict(chat=private_chat(4242), from_user=None),
}
ANSWER = "I only talk with people"


@pytest.mark.parametrize("kind", list(SENDERS))
async def test_every_command_from_a_sender_that_is_not_a_person(tg, db, caplog, kind):
    commands = sorted(answered_commands())
    assert len(commands) > 30  # the enumeration found the commands
    caplog.set_level(logging.WARNING)
    sender = SENDERS[kind]
    in_group = sender["chat"].type != "private"
    for name in commands:
        for text in (f"/{name}", f"/{name} 1 BTC 1 2"):
            sent = await tg.feed(message_update(tg, text, **sender))
            out = texts(sent)
            assert "something went wrong" not in out, (kind, text)
            if in_group:
                assert sent == [], (kind, text, out)
            else:
                assert [s.method for s in sent] == ["sendMessage"], (kind, text, out)
                assert ANSWER in out, (kind, text, out)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    for someone in (ANONYMOUS_ADMIN, CHANNEL_BOT, OTHER_BOT, TELEGRAM):
        with pytest.raises(DomainError):
            await db.read(users.get_user, someone.id)  # never registered as a user
    assert await db.read(audit.recent, 10) == []


async def test_the_answer_in_private_is_translated(tg):
    bot = TgUser(id=5550002, is_bot=True, first_name="Robo", language_code="es")
    sent = await tg.feed(message_update(tg, "/balance", chat=private_chat(bot.id), from_user=bot))
    assert "Solo hablo con personas" in texts(sent)


async def test_a_person_in_the_same_group_is_still_answered(tg):
    alice = tg.person(111)
    sent = await tg.feed(message_update(tg, "/help", chat=GROUP, from_user=alice.user))
    assert "/balance" in texts(sent)
