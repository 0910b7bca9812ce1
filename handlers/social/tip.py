"""/tip AMOUNT ASSET, as a reply in a group: the author of the message replied to gets it.

Someone who has not started the bot gets it held, with a Claim button (``start=t<code>``).
A group gets at most ``tip.group_limit`` tips per ``tip.group_window``; past that, one short
notice per window and nothing moves, so the bot never floods a group.
"""

from __future__ import annotations

import time

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from core.identity.users import User
from core.money.amounts import parse_amount
from core.money.assets import get_asset
from core.platform.db import Database
from core.platform.params import Params, define
from core.social import sends, tips
from handlers.common.args import words
from handlers.common.i18n import _, amount
from handlers.social.common import claim_link, user_name, who

define("tip.group_limit", "10", "int", minimum=1, maximum=1000)
define("tip.group_window", "1m", "duration", minimum=1, maximum=86400)


class GroupGate:
    """Tips per group and window, in memory (one window at a time per group); one per router."""

    def __init__(self) -> None:
        self.counts: dict[int, tuple[int, int]] = {}

    async def cmd_tip(
        self,
        message: Message,
        command: CommandObject,
        user: User,
        db: Database,
        params: Params,
        bot_username: str,
    ) -> None:
        await cmd_tip(message, command, user, db, params, bot_username, self)

    def admit(self, chat_id: int, limit: int, window: int) -> int:
        """How many tips this one is in its window (1 for the first); past ``limit`` it is refused."""
        slot = int(time.monotonic() // window)
        last, count = self.counts.get(chat_id, (slot, 0))
        count = count + 1 if last == slot else 1
        if len(self.counts) > 10_000:
            self.counts.clear()
        self.counts[chat_id] = (slot, count)
        return count


def usage() -> str:
    return _("Reply to someone's message in a group with /tip AMOUNT ASSET, like /tip 0.01 DOGE.")


async def cmd_tip(
    message: Message,
    command: CommandObject,
    user: User,
    db: Database,
    params: Params,
    bot_username: str,
    gate: GroupGate,
) -> None:
    reply = message.reply_to_message
    args = words(command)
    if message.chat.type == "private" or reply is None or len(args) != 2:
        await message.reply(usage())
        return
    author = reply.from_user
    if author is None or reply.sender_chat is not None:
        await message.reply(_("That message has no person behind it to tip."))
        return
    limit, window = params.get("tip.group_limit"), params.get("tip.group_window")
    count = gate.admit(message.chat.id, limit, window)
    if count > limit:
        if count == limit + 1:
            await message.reply(_("Lots of tips here just now. Please wait a minute and try again."))
        return
    asset = get_asset(args[1])
    value = parse_amount(args[0], asset)
    t = await db.write(
        tips.tip,
        user.id,
        author.id,
        message.chat.id,
        message.message_id,
        asset.code,
        value,
        sends.policy_for(params, asset.code),
        recipient_is_bot=author.is_bot,
    )
    names = {"sender": user_name(user), "recipient": who(author.first_name, author.username)}
    if t.state == "held":
        text = _(
            "💸 {sender} tipped {recipient} {amount}. {recipient}, start the bot within {days} days to claim it."
        ).format(amount=amount(t.amount, t.asset), days=params.get("send.unclaimed_days"), **names)
        button = InlineKeyboardButton(text=_("🎁 Claim"), url=claim_link(bot_username, "t" + t.code))
        await message.reply(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]))
    else:
        await message.reply(
            _("💸 {sender} tipped {recipient} {amount}.").format(amount=amount(t.amount, t.asset), **names)
        )


def router() -> Router:
    routes = Router(name=__name__)
    routes.message.register(GroupGate().cmd_tip, Command("tip"))
    return routes
