"""handlers.common.keys.update_key: one way to derive an idempotency key from an update,
byte for byte the keys the handlers wrote by hand before (stored transfers keep matching)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiogram.types import CallbackQuery, Chat, Message, User

from handlers.common.keys import update_key

PERSON = User(id=42, is_bot=False, first_name="A")


def message(chat_id: int, message_id: int) -> Message:
    return Message(
        message_id=message_id,
        date=datetime.now(UTC),
        chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
        from_user=PERSON,
        text="/deposit 1 BTC",
    )


def query(query_id: str) -> CallbackQuery:
    return CallbackQuery(id=query_id, from_user=PERSON, chat_instance="c", data="gp:go")


@pytest.mark.parametrize(
    ("event", "scope", "key"),
    [
        (message(42, 7), (), "msg:42:7"),  # /dice, /crash typed
        (message(-1001234567890, 99), (), "msg:-1001234567890:99"),  # a group's chat id is negative
        (message(42, 7), ("admin", "deposit"), "admin:deposit:42:7"),
        (message(42, 8), ("admin", "credit"), "admin:credit:42:8"),
        (message(42, 9), ("owner", "fund"), "owner:fund:42:9"),
        (message(42, 9), ("owner", "remove"), "owner:remove:42:9"),
        (query("4711963258741"), (), "cb:4711963258741"),  # a tap on Play / Join / Repeat
    ],
)
def test_keys_are_the_ones_handlers_wrote_by_hand(event, scope, key):
    assert update_key(event, *scope) == key


def test_a_retried_update_has_the_same_key_and_another_message_another():
    assert update_key(message(42, 7), "admin", "fund") == update_key(message(42, 7), "admin", "fund")
    assert update_key(message(42, 7)) != update_key(message(42, 8))
    assert update_key(message(42, 7)) != update_key(message(43, 7))  # message ids are per chat
    assert update_key(message(42, 7), "admin", "fund") != update_key(message(42, 7), "admin", "deposit")
    assert update_key(query("1")) != update_key(query("2"))


def test_no_handler_writes_a_key_from_an_update_by_hand():
    """Keys from message or query ids come from update_key only."""
    by_hand = re.compile(r"""f["'][^"'\n]*\{[^}]*(message_id|query\.id|chat\.id)\}""")
    root = Path(__file__).resolve().parents[3] / "handlers"
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        if path.name != "keys.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if by_hand.search(line)
    ]
    assert found == []
