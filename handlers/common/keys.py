"""Idempotency keys from Telegram updates.

Telegram delivers an update again when the bot did not confirm it (a crash, a timeout, a
webhook answered late), and a person may tap a button twice. A money-moving handler takes
its key from the update itself, so the retry finds the first transfer instead of making a
second one:

* a message: the chat and the message id, which Telegram never reuses in a chat
  (``msg:{chat}:{message}``, or ``admin:deposit:{chat}:{message}`` with a scope);
* a button tap: the callback query id, unique per bot (``cb:{query}``); a second tap on
  the same button is a new query, so the use case decides what a repeat means.
"""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message

MESSAGE_SCOPE = ("msg",)
QUERY_SCOPE = ("cb",)


def update_key(event: Message | CallbackQuery, *scope: str) -> str:
    """The key of the fact ``event`` is: ``scope`` parts first (default ``msg`` / ``cb``),
    then the message's chat and id, or the query's id, joined with ``:``."""
    if isinstance(event, CallbackQuery):
        return ":".join((*(scope or QUERY_SCOPE), event.id))
    return ":".join((*(scope or MESSAGE_SCOPE), str(event.chat.id), str(event.message_id)))
