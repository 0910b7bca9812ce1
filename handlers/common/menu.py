"""The main menu: inline buttons a phone user taps instead of typing commands."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.common.i18n import __

# The largest row id a button may carry. A forged bigger one (callback data is the
# client's to forge) would overflow BIGINT in the database; filters refuse it first.
MAX_ID = 10**15


class MenuCB(CallbackData, prefix="m"):
    """Open a section of the menu. ``to`` is a section name from MENU (or 'home')."""

    to: str


# (section, label) in display order; a feature adds its row here and a handler for MenuCB(to=section).
MENU: list[tuple[str, object]] = [
    ("balance", __("💰 Balance")),
    ("history", __("📜 History")),
    ("faucet", __("🚰 Faucet")),
    ("withdraw", __("📤 Withdraw")),
    ("games", __("🎮 Games")),
    ("refer", __("🤝 Invite friends")),
    ("faucets", __("🌐 Faucet sites")),
    ("ads", __("📢 Ads")),
    ("addresses", __("📒 Addresses")),
    ("twofa", __("🔐 2FA")),
    ("checks", __("🎁 Checks")),
    ("language", __("🌐 Language")),
    ("help", __("❓ Help")),
    ("offers", __("🎯 Offers")),
    ("daily", __("🎁 Daily bonus")),
    ("profile", __("🏅 Profile")),
    ("stake", __("🥩 Staking")),
]


def main_menu() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for section, label in MENU:
        kb.button(text=str(label), callback_data=MenuCB(to=section))
    kb.adjust(2)
    return kb.as_markup()


def back_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=str(__("⬅️ Menu")), callback_data=MenuCB(to="home").pack())


def back_to_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[back_button()]])
