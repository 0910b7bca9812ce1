"""What the crash runner (jobs.crash) shows: each player's round view and the channel post.

jobs never import handlers; bot.py hands an instance of ``CrashViews`` to the runner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from core.platform.params import Params
from core.play import crash
from handlers.common.i18n import _, amount, get_i18n
from handlers.play.crash import cash_button, joined_text, post_to_channel, x


class CrashViews:
    def live(
        self, rnd: crash.Round, bet: crash.CrashBet, multiplier: int
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        i18n = get_i18n()
        with i18n.context(), i18n.use_locale(bet.locale):
            head = _("📈 Round #{game}: <b>{x}</b>").format(game=rnd.game, x=x(multiplier))
            auto = bet.auto_cashout
            if bet.status == crash.WON:
                return (
                    head
                    + "\n"
                    + _("You cashed out at {x}: {payout}").format(
                        x=x(bet.cashout or 0), payout=amount(bet.payout, bet.asset)
                    )
                ), None
            if bet.status == crash.OPEN and auto is not None and multiplier >= auto:
                # The auto cash-out has happened (it is settled with the round): no button.
                return (
                    head
                    + "\n"
                    + _("Auto cash-out at {x}: {payout}").format(
                        x=x(auto), payout=amount(bet.amount * auto // 100, bet.asset)
                    )
                ), None
            return (
                head + "\n" + _("Your bet: {amount}").format(amount=amount(bet.amount, bet.asset)),
                cash_button(bet.id),
            )

    def countdown(
        self, rnd: crash.Round, bet: crash.CrashBet, now: datetime
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """A joined player's view while bets are taken: the betting window counting down."""
        i18n = get_i18n()
        with i18n.context(), i18n.use_locale(bet.locale):
            return joined_text(bet, rnd, now), cash_button(bet.id)

    def final(self, rnd: crash.Round, bet: crash.CrashBet, game_hash: str) -> str:
        i18n = get_i18n()
        with i18n.context(), i18n.use_locale(bet.locale):
            lines = [_("💥 Round #{game} crashed at <b>{x}</b>.").format(game=rnd.game, x=x(rnd.crash_point))]
            if bet.status == crash.WON:
                lines.append(
                    _("You cashed out at {x}: {payout}").format(
                        x=x(bet.cashout or 0), payout=amount(bet.payout, bet.asset)
                    )
                )
            elif bet.status == crash.OPEN:  # the settlement failed: retried soon
                lines.append(
                    _("Your bet is safe on hold and will be settled shortly; you will get a message.")
                )
            else:
                lines.append(_("You lost {amount}.").format(amount=amount(bet.amount, bet.asset)))
            lines.append(_("Game hash: <code>{hash}</code>").format(hash=game_hash))
            return "\n".join(lines)

    async def announce(self, bot: Any, params: Params, rnd: crash.Round, game_hash: str) -> None:
        with get_i18n().context(), get_i18n().use_locale("en"):
            text = _("Crash round #{game}: {x}. Hash: {hash}").format(
                game=rnd.game, x=x(rnd.crash_point), hash=game_hash
            )
        await post_to_channel(bot, params, text)
