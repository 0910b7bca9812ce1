"""Words of loyalty shared by its handlers: refusals, ledger labels, notices, the reward extras line."""

from __future__ import annotations

from core.errors import DomainError
from core.loyalty import boosts, daily, points, staking
from core.loyalty.errors import LoyaltyError
from handlers.common import errors, labels
from handlers.common import notices as notice_texts
from handlers.common.formatting import percent, wait_text
from handlers.common.i18n import _, __, amount

for _code, _text in (
    (points.EARN_CODES["faucet"], __("Reward points: faucet")),
    (points.EARN_CODES["ad"], __("Reward points: ad view")),
    (points.EARN_CODES["offer"], __("Reward points: offer")),
    (points.EARN_CODES["wager"], __("Reward points: games")),
    (points.EARN_CODES["checkin"], __("Reward points: daily check-in")),
    (points.EARN_CODES["daily"], __("Reward points: daily bonus")),
    (points.CODE_BOOST_BONUS, __("Boost bonus")),
    (points.CODE_LEVEL_BONUS, __("Level bonus")),
    (points.CODE_CONVERT, __("Points converted")),
    (points.CODE_CONVERT_PAY, __("Coins for reward points")),
    (boosts.CODE, __("Boost bought")),
    (daily.CODE_FREEZE, __("Streak freeze bought")),
    (staking.CODE_STAKE, __("Staked")),
    (staking.CODE_UNSTAKE, __("Unstaked")),
    (staking.CODE_REWARD, __("Staking reward")),
):
    labels.register(_code, _text)


def source_name(source: str) -> str:
    names = {
        "faucet": _("Faucet"),
        "ad": _("Ads"),
        "offer": _("Offers"),
        "wager": _("Games"),
        "checkin": _("Daily check-in"),
        "daily": _("Daily bonus"),
    }
    return names.get(source, source)


def _seconds(e: DomainError) -> str:
    return wait_text(int(str(e.params.get("seconds", 1))))


def _need(e: DomainError) -> str:
    return _(
        "You do not have enough reward points for that: it needs {need} RP. Nothing was changed."
    ).format(need=e.params.get("need"))


for _reason, _render in (
    (
        "already_checked_in",
        lambda e: _("You already checked in today. Come back in {time} (midnight UTC).").format(
            time=_seconds(e)
        ),
    ),
    ("not_enough_points", _need),
    ("bad_points", lambda e: _("Please give a whole number of points above zero, like /convert 500 DOGE.")),
    (
        "convert_off",
        lambda e: _("Points cannot be converted into {asset} at the moment.").format(
            asset=e.params.get("asset")
        ),
    ),
    (
        "convert_dry",
        lambda e: _("We cannot pay {asset} for points right now. Nothing was changed.").format(
            asset=e.params.get("asset")
        ),
    ),
    (
        "quote_changed",
        lambda e: _("The rate changed since the quote. Nothing was changed; please ask again."),
    ),
    (
        "unknown_boost",
        lambda e: _("There is no boost {number}. Send /boost to see the choices.").format(
            number=e.params.get("number")
        ),
    ),
    (
        "boost_running",
        lambda e: _("A boost is already running ({time} left). Choose to extend or replace it.").format(
            time=_seconds(e)
        ),
    ),
    (
        "boost_mismatch",
        lambda e: _(
            "Only a boost of the same size (+{percent}%) can extend the running one; replace it instead."
        ).format(percent=percent(int(str(e.params.get("bp", 0))))),
    ),
    (
        "freeze_limit",
        lambda e: _("You already hold the most streak freezes allowed ({max}).").format(
            max=e.params.get("max")
        ),
    ),
    (
        "stake_too_much",
        lambda e: _("You cannot stake more DUST than you have available. Nothing was changed."),
    ),
    (
        "unstake_too_much",
        lambda e: _("You cannot unstake more DUST than your position holds. Nothing was changed."),
    ),
    ("bad_stake", lambda e: _("The amount must be greater than zero.")),
    ("already_done", lambda e: _("That was already done.")),
):
    errors.register(_reason, _render, kind=LoyaltyError)


def streak_ends(p: dict[str, object]) -> str:
    return _("🔥 Your {streak}-day streak ends in {hours} h. Send /daily to keep it.").format(
        streak=p.get("streak"), hours=p.get("hours")
    )


notice_texts.register("streak_ends", streak_ends)


def extras_line(points_earned: int, bonus: int, asset: str) -> str:
    """The line under a paid reward: points earned and the boost/level extra."""
    parts = []
    if points_earned:
        parts.append(_("+{points} RP").format(points=points_earned))
    if bonus:
        parts.append(_("+{bonus} bonus").format(bonus=amount(bonus, asset)))
    return " · ".join(parts)
