"""Inline mode: ``@bot 0.001 DOGE [N]`` offers a check in any chat; ``@bot`` alone offers the
user's invite link and shows their balance (in the result list only they see).

Nothing is reserved for an offered result: the check is made from the chosen inline result
(``chosen_inline_result``), keyed by its ``inline_message_id``, and the posted message is then
edited to carry the check's Claim link. A result id carries the offer and an HMAC of it under
SECRET_KEY and the user's id, so a forged id makes no check. Answers are personal and cached
for ``inline.cache_seconds``, by Telegram and here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    ChosenInlineResult,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InlineQueryResultUnion,
    InputTextMessageContent,
)

from core.config import Settings
from core.earn import referrals
from core.errors import DomainError
from core.identity.users import User
from core.money import ledger
from core.money.accounts import user_account
from core.money.amounts import parse_amount
from core.money.assets import get_asset
from core.platform.db import Database
from core.platform.params import Params, define
from core.social import checks
from handlers.common.errors import explain
from handlers.common.i18n import _, amount
from handlers.social.common import claim_link

log = logging.getLogger(__name__)
define("inline.cache_seconds", "5s", "duration", minimum=0, maximum=300)
MAX_QUERY = 64


def sign(secret_key: str, user_id: int, offer: str) -> str:
    mac = hmac.new(secret_key.encode(), f"inline:{user_id}:{offer}".encode(), hashlib.sha256)
    return mac.hexdigest()[:16]


def result_id(secret_key: str, user_id: int, value: int, asset: str, count: int) -> str:
    """``k.<minor units>.<ASSET>.<activations>.<mac>``: at most 52 bytes (Telegram allows 64)."""
    offer = f"{value}.{asset}.{count}"
    return f"k.{offer}.{sign(secret_key, user_id, offer)}"


def read_result_id(secret_key: str, user_id: int, rid: str) -> tuple[int, str, int] | None:
    """The offer behind a result id this bot made for ``user_id``; None for anything else."""
    parts = rid.split(".")
    if len(parts) != 5 or parts[0] != "k":
        return None
    offer = ".".join(parts[1:4])
    if not hmac.compare_digest(parts[4], sign(secret_key, user_id, offer)):
        return None
    if not (parts[1].isdigit() and parts[3].isdigit()):
        return None
    return int(parts[1]), parts[2], int(parts[3])


def parse_offer(text: str) -> tuple[int, str, int]:
    """``0.001 DOGE [N]`` -> (minor units, asset, activations); raises DomainError on bad input."""
    words = text.split()
    if len(words) not in (2, 3):
        raise checks.CheckError("inline_usage")
    asset = get_asset(words[1])
    value = parse_amount(words[0], asset)
    count = words[2] if len(words) == 3 else "1"
    if not (count.isascii() and count.isdigit() and len(count) <= 6 and int(count) > 0):
        raise checks.CheckError("inline_usage")
    return value, asset.code, int(count)


def _article(
    rid: str, title: str, description: str, message: str, url: str | None = None
) -> InlineQueryResultArticle:
    markup = None
    if url is not None:
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=_("🎁 Claim"), url=url)]])
    return InlineQueryResultArticle(
        id=rid,
        title=title,
        description=description,
        input_message_content=InputTextMessageContent(message_text=message, link_preview_options=None),
        reply_markup=markup,
    )


def invite_text(bot_username: str, user_id: int) -> str:
    link = claim_link(bot_username, referrals.invite_code(user_id))
    return _("Collect free crypto with me on Dustpan: {link}").format(link=link)


class Inline:
    """The inline handlers, with their per-user answer cache (one per router)."""

    def __init__(self) -> None:
        self.cache: dict[
            tuple[int, str], tuple[float, list[InlineQueryResultArticle], InlineQueryResultsButton | None]
        ] = {}  # float ok: monotonic

    async def on_query(
        self,
        inline_query: InlineQuery,
        user: User,
        db: Database,
        params: Params,
        settings: Settings,
        bot_username: str,
    ) -> None:
        text = inline_query.query.strip()[:MAX_QUERY]
        ttl = params.get("inline.cache_seconds")
        key = (user.id, text)
        now = time.monotonic()
        hit = self.cache.get(key)
        if hit is not None and hit[0] > now:
            results, button = hit[1], hit[2]
        else:
            results, button = await self.answer(text, user, db, settings, bot_username)
            if len(self.cache) > 50_000:
                self.cache.clear()
            self.cache[key] = (now + ttl, results, button)
        await inline_query.answer(
            list[InlineQueryResultUnion](results), cache_time=ttl, is_personal=True, button=button
        )

    async def answer(
        self, text: str, user: User, db: Database, settings: Settings, bot_username: str
    ) -> tuple[list[InlineQueryResultArticle], InlineQueryResultsButton | None]:
        open_bot = InlineQueryResultsButton(text=_("Open Dustpan"), start_parameter="inline")
        invite = invite_text(bot_username, user.id)
        bot_url = f"https://t.me/{bot_username}"
        if not text:
            held = await db.read(ledger.balances, user_account(user.id))
            shown = ", ".join(amount(b.available, a) for a, b in held.items() if b.available > 0)
            return [
                _article("invite", _("Invite friends to Dustpan"), _("Your invite link"), invite),
                _article("balance", _("Your balance"), shown or _("No coins yet"), invite),
            ], open_bot
        try:
            value, asset, count = parse_offer(text)
        except DomainError as err:
            return [_article("usage", _("Type an amount and a coin"), explain(err), invite)], open_bot
        available = (await db.read(ledger.balance, user_account(user.id), asset)).available
        if available < value * count:
            return [
                _article(
                    "nofunds",
                    _("Not enough {asset}").format(asset=asset),
                    _("You have {amount}. Open the bot to collect more.").format(
                        amount=amount(available, asset)
                    ),
                    invite,
                )
            ], InlineQueryResultsButton(text=_("Not enough coins: open Dustpan"), start_parameter="inline")
        if count == 1:
            title = _("Send a check for {amount}").format(amount=amount(value, asset))
        else:
            title = _("Send a check: {count} × {amount}").format(count=count, amount=amount(value, asset))
        message = _("🎁 A check for {amount}: tap Claim to take it.").format(amount=amount(value, asset))
        if count > 1:
            message = _("🎁 A check: {count} people can claim {amount} each. Tap Claim.").format(
                count=count, amount=amount(value, asset)
            )
        rid = result_id(settings.secret_key, user.id, value, asset, count)
        return [_article(rid, title, _("Nothing is taken until you pick this."), message, bot_url)], None

    async def on_chosen(
        self,
        chosen_inline_result: ChosenInlineResult,
        user: User,
        db: Database,
        params: Params,
        settings: Settings,
        bot: Bot,
        bot_username: str,
    ) -> None:
        chosen = chosen_inline_result
        if chosen.result_id in ("invite", "balance", "usage", "nofunds"):
            return
        message_id = chosen.inline_message_id
        offer = read_result_id(settings.secret_key, user.id, chosen.result_id)
        if offer is None or not message_id:
            log.warning("chosen inline result with a forged or unknown id from %s", user.id)
            if message_id:
                await self.edit(bot, message_id, _("This check is not valid. Nothing was taken."), None)
            return
        value, asset, count = offer
        try:
            c = await db.write(
                checks.create_check,
                user.id,
                asset,
                value,
                count,
                checks.policy_for(params, asset),
                inline_message_id=message_id,
            )
        except DomainError as err:
            await self.edit(
                bot, message_id, _("No check was made: {why}").format(why=explain(err, as_html=True)), None
            )
            return
        if count == 1:
            text = _("🎁 A check for {amount}: tap Claim to take it.").format(amount=amount(value, asset))
        else:
            text = _("🎁 A check: {count} people can claim {amount} each. Tap Claim.").format(
                count=count, amount=amount(value, asset)
            )
        await self.edit(bot, message_id, text, claim_link(bot_username, c.payload))

    @staticmethod
    async def edit(bot: Bot, inline_message_id: str, text: str, url: str | None) -> None:
        markup = None
        if url is not None:
            markup = InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text=_("🎁 Claim"), url=url)]]
            )
        try:
            await bot.edit_message_text(text=text, inline_message_id=inline_message_id, reply_markup=markup)
        except TelegramAPIError:
            log.warning("could not edit inline message %s", inline_message_id, exc_info=True)


def router() -> Router:
    routes = Router(name=__name__)
    inline = Inline()
    routes.inline_query.register(inline.on_query)
    routes.chosen_inline_result.register(inline.on_chosen)
    return routes
