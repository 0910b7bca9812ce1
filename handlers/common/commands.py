"""The command list shown in Telegram's menu, registered per language (setMyCommands)."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from core.identity.users import LANGUAGES
from handlers.common.i18n import I18n, __

log = logging.getLogger(__name__)

# (command, description) for everyone, in menu order; a feature adds its line.
PUBLIC: list[tuple[str, object]] = [
    ("start", __("Main menu")),
    ("balance", __("Your balance in every coin")),
    ("history", __("Recent movements")),
    ("faucet", __("Claim free coins after a small puzzle")),
    ("refer", __("Your invite link and referral earnings")),
    ("faucets", __("Faucet sites that pay into your wallet")),
    ("owner", __("Run a faucet site: API keys, escrow, payouts")),
    ("games", __("Dice, limbo, plinko and crash")),
    ("dice", __("Roll dice: /dice AMOUNT ASSET over|under TARGET")),
    ("limbo", __("Limbo: /limbo AMOUNT ASSET TARGET")),
    ("plinko", __("Plinko: /plinko AMOUNT ASSET ROWS RISK")),
    ("crash", __("Join the next crash round")),
    ("fair", __("Your seeds: check that games are fair")),
    ("clientseed", __("Choose your own client seed (rotates the seeds)")),
    ("verify", __("Show how a bet's result was computed")),
    ("bets", __("Your recent bets")),
    ("limits", __("Loss limits and pausing games")),
    ("language", __("Change language")),
    ("help", __("What each command does")),
    ("withdraw", __("Send coins to your wallet")),
    ("withdrawals", __("Your withdrawals and their state")),
    ("address", __("Your withdrawal addresses")),
    ("2fa", __("Two-factor authentication")),
    ("swap", __("Swap one coin for another: /swap AMOUNT FROM TO")),
    ("sweep", __("Sweep all your other coins into one: /sweep ASSET")),
    ("ads", __("Paid ads: visit a site or join a channel, get paid")),
    ("advertise", __("Advertise: pay people to visit your site or join your channel")),
    ("campaigns", __("Your ad campaigns: numbers, pause, top up, cancel")),
    ("offers", __("Offerwalls and surveys: earn more")),
    ("send", __("Send coins to someone: /send AMOUNT ASSET @username")),
    ("tip", __("In a group, reply with /tip AMOUNT ASSET to tip the author")),
    ("check", __("Make a check anyone with the link can claim")),
    ("checks", __("Your checks: claims, options, revoke")),
    ("proof", __("Check that your balance is counted in what we owe")),
    ("reserves", __("What we hold against what we owe, per coin")),
    ("daily", __("Daily check-in: reward points for your streak")),
    ("profile", __("Your level, streak, boost and reward points")),
    ("convert", __("Turn reward points into coins: /convert POINTS COIN")),
    ("boost", __("Spend reward points on a reward boost")),
    ("stake", __("Stake DUST for a share of platform revenue")),
    ("unstake", __("Take staked DUST out: /unstake AMOUNT")),
    ("crashround", __("Check a crashed round: its hash and crash point")),
    ("appeal", __("Ask the admins to look again at a ban or a freeze: /appeal TEXT")),
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
    ("crashnew", __("Create a crash hash chain")),
    ("crashsalt", __("Set the public salt of the crash chain")),
    ("payouts", __("Withdrawals waiting for approval")),
    ("paid", __("Mark a manual payout batch sent")),
    ("failed", __("Mark a manual payout batch failed")),
    ("rates", __("Price sources and rates; /rates set ASSET USD")),
    ("review", __("Ads waiting for review")),
    ("adreject", __("Reject an ad with a reason")),
    ("invalidview", __("Mark an ad view invalid (fraud)")),
    ("offerwall", __("Offerwalls: add, list, on/off, IPs, hold, remove, trust")),
    ("broadcast", __("Message all users or a segment, within Telegram's limits")),
    ("user", __("One user: balances, earnings, flags, audit; ban or freeze")),
    ("ban", __("Ban a user: /ban USER REASON")),
    ("unban", __("Lift a user's ban: /unban USER")),
    ("freeze", __("Freeze a user's withdrawals: /freeze USER [REASON]")),
    ("unfreeze", __("Unfreeze a user's withdrawals: /unfreeze USER")),
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
    for admin_id in admin_ids:
        await register_admin_commands(bot, i18n, admin_id)


async def register_admin_commands(bot: Bot, i18n: I18n, admin_id: int) -> None:
    """Admins see their commands in their own chat; needs a chat, so it is retried at their /start."""
    with i18n.context(), i18n.use_locale("en"):
        try:
            await bot.set_my_commands(commands(PUBLIC + ADMIN), scope=BotCommandScopeChat(chat_id=admin_id))
        except TelegramBadRequest:
            log.info("admin %s has no chat with the bot yet; their command list waits for /start", admin_id)
