"""Test doubles for end-to-end tests: a fake Telegram Bot API server and a bot-process runner."""

from .bot_api import (
    DEFAULT_TOKEN,
    ApiError,
    Call,
    ChatMessage,
    FakeBotAPI,
    FakeUser,
    StoredFile,
    UploadedFile,
    WebhookDelivery,
    command_entities,
    image_size,
)
from .process import BotProcess, BotProcessError

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotProcess",
    "BotProcessError",
    "Call",
    "ChatMessage",
    "FakeBotAPI",
    "FakeUser",
    "StoredFile",
    "UploadedFile",
    "WebhookDelivery",
    "command_entities",
    "image_size",
]
