"""The join-hold job: settle join-task rewards whose hold (``ads.join_hold``) is over.

For each held join reward that is due (core.earn.ads.due_joins) it asks Telegram whether the
viewer is still a member of the channel (getChatMember; the bot is an admin there, checked
when the campaign was made) and settles it in one transaction: posted to the viewer (with the
fee and the referrer's commission) or voided back to the campaign, and the viewer is told
(core.earn.ads.settle_join). When Telegram cannot say (a network error, the bot lost access
to the channel), the reward stays held and is asked about again at the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramBadRequest

from core.earn import ads
from core.platform.db import Database
from core.platform.params import Params

log = logging.getLogger(__name__)
IsMember = Callable[[str, int], Awaitable[bool | None]]
MEMBER_STATUSES = ("creator", "administrator", "member")


def telegram_member(bot: Bot) -> IsMember:
    """``is_member(channel, user_id)`` by getChatMember: True, False, or None when Telegram cannot say."""

    async def is_member(channel: str, user_id: int) -> bool | None:
        try:
            got = await bot.get_chat_member(channel, user_id)
        except ClientDecodeError as err:  # a kind of member this aiogram cannot read: its status still is
            result = err.data.get("result") if isinstance(err.data, dict) else None
            status = result.get("status") if isinstance(result, dict) else None
            return None if status is None else status in (*MEMBER_STATUSES, "restricted")
        except TelegramBadRequest as err:
            if "user not found" in err.message.lower() or "participant" in err.message.lower():
                return False
            log.warning("ads: cannot check members of %s (%s); the rewards stay held", channel, err.message)
            return None
        except TelegramAPIError as err:
            log.warning("ads: getChatMember for %s failed (%s); asking again later", channel, err)
            return None
        status = str(getattr(got.status, "value", got.status))
        return status in MEMBER_STATUSES or bool(getattr(got, "is_member", False))

    return is_member


async def settle_joins(
    db: Database, params: Params, is_member: IsMember, *, limit: int = 200
) -> dict[str, int]:
    """One round: returns how many held rewards were paid, voided or left for later."""
    await params.refresh(db)
    s = ads.settings_for(params)
    counts = {"paid": 0, "void": 0, "later": 0}
    for held in await db.read(ads.due_joins, None, limit):
        member = await is_member(held.channel, held.user_id)
        if member is None:
            counts["later"] += 1
            continue
        status = await db.write(ads.settle_join, held.view_id, member, s)
        if status in counts:
            counts[status] += 1
    if counts["paid"] or counts["void"]:
        log.info("ads: join rewards settled: %s paid, %s voided", counts["paid"], counts["void"])
    return counts
