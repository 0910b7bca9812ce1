"""The command list shown in Telegram's menu, registered per language (setMyCommands)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from core.users import LANGUAGES
from handlers.i18n import I18n, __

# (command, description) for everyone, in menu order; a feature adds its line.
PUBLIC: list[tuple[str, object]] = [
    ("start", __("Main menu")),
    ("balance", __("Your balance in every coin")),
    ("history", __("Recent movements")),
    ("language", __("Change language")),
    ("help", __("What each command does")),
    ("withdraw", __("Send coins to your wallet")),
    ("withdrawals", __("Your withdrawals and their state")),
    ("addresses", __("Your withdrawal addresses")),
    ("2fa", __("Two-factor authentication")),
]
ADMIN: list[tuple[str, object]] = [
    ("admin", __("Stats, liabilities and system accounts")),
    ("deposit", __("Record coins put into the platform wallets")),
    ("fund", __("Move treasury funds into a pool")),
    ("credit", __("Credit a user from the treasury")),
    ("debit", __("Debit a user to the treasury")),
    ("params", __("Show runtime settings")),
    ("set", __("Change a runtime setting")),
    ("audit", __("Recent admin actions")),
    ("payouts", __("Withdrawals waiting for approval")),
    ("paid", __("Mark a manual payout batch sent")),
    ("failed", __("Mark a manual payout batch failed")),
]


def commands(items: list[tuple[str, object]]) -> list[BotCommand]:
    return [BotCommand(command=name, description=str(text)) for name, text in items]


async def register_commands(bot: Bot, i18n: I18n, admin_ids: frozenset[int]) -> None:
    """Default list in English, one list per language, and admins' lists in their chats."""
    with i18n.context():
        with i18n.use_locale("en"):
            await bot.set_my_commands(commands(PUBLIC), scope=BotCommandScopeDefault())
        for lang in LANGUAGES:
            with i18n.use_locale(lang):
                await bot.set_my_commands(
                    commands(PUBLIC), scope=BotCommandScopeDefault(), language_code=lang
                )
        with i18n.use_locale("en"):
            for admin_id in admin_ids:
                await bot.set_my_commands(
                    commands(PUBLIC + ADMIN), scope=BotCommandScopeChat(chat_id=admin_id)
                )
