"""Filters more than one feature uses. All are async ``Filter`` classes: aiogram runs a
synchronous filter (``F`` magic included) in a worker thread, 110-150 µs a check here."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message


class IsAdmin(Filter):
    """An admin, in a private chat: in a group the chat is not the admin (2FA, audit) and
    everyone there would read the answers."""

    async def __call__(self, message: Message, admin_ids: frozenset[int]) -> bool:
        return (
            message.from_user is not None
            and message.from_user.id in admin_ids
            and message.chat.type == "private"
        )


class IsAdminQuery(Filter):
    """An admin's tap, in the private chat where the admin commands answer (see IsAdmin)."""

    async def __call__(self, query: CallbackQuery, admin_ids: frozenset[int]) -> bool:
        return (
            query.from_user.id in admin_ids
            and query.message is not None
            and query.message.chat.type == "private"
        )


class NotCommand(Filter):
    """Text that is not a command: an answer typed while a conversation waits for one."""

    async def __call__(self, message: Message) -> bool:
        text = message.text or ""
        return bool(text) and not text.startswith("/")
