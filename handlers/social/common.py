"""What the social handlers share: names as users read them, refusals, notices, ledger labels."""

from __future__ import annotations

import html

from core.identity.users import User
from core.social import checks, sends, tips
from handlers.common import errors, labels
from handlers.common import notices as notice_texts
from handlers.common.i18n import _, __, amount


def who(first_name: str | None, username: str | None) -> str:
    """A person as others read them: first name, and @username if any (HTML-escaped)."""
    name = html.escape(first_name or "") or "?"
    return f"{name} (@{html.escape(username)})" if username else name


def user_name(user: User) -> str:
    return who(user.first_name, user.username)


def claim_link(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username}?start={payload}"


def _min(e) -> str:
    return _("The least you can send is {minimum}.").format(
        minimum=amount(int(e.params["minimum"]), str(e.params["asset"]))
    )


def _tip_code(e) -> str:
    return _("Tips above {maximum} need your 2FA code: use /send in our private chat instead.").format(
        maximum=amount(int(e.params["maximum"]), str(e.params["asset"]))
    )


errors.register("send_self", __("You cannot send coins to yourself."))
errors.register("send_bot", __("Bots cannot receive coins."))
errors.register("send_below_min", _min)
errors.register("send_not_found", __("That transfer does not exist."))
errors.register("send_cancelled", __("That transfer was cancelled. Nothing was sent."))
errors.register("send_expired", __("That quote expired. Please send the /send command again."))
errors.register("send_already_sent", __("That transfer was already sent."))
errors.register("tip_needs_code", _tip_code)
errors.register("tip_unknown", __("That tip does not exist or is not for you."))
errors.register("tip_returned", __("That tip was not claimed in time and went back to its sender."))
errors.register("check_unknown", __("That check does not exist."))
errors.register("check_revoked", __("That check was revoked by its creator."))
errors.register("check_expired", __("That check has expired."))
errors.register("check_exhausted", __("That check has been fully claimed."))
errors.register("check_claimed", __("You have already claimed this check."))
errors.register("check_own", __("This is your own check: share its link with others."))
errors.register("check_password_needed", __("This check is protected by a password."))
errors.register("check_wrong_password", __("Wrong password. Nothing was claimed."))
errors.register("check_locked", __("Too many wrong passwords for this check. Try again later."))
errors.register("check_new_only", __("This check is for new Dustpan users only."))
errors.register(
    "check_members_only", __("This check is only for members of {channel}. Join it and try again.")
)
errors.register("check_closed", __("That check is closed and cannot be changed."))
errors.register("check_too_many", __("A check can have from 1 to {maximum} activations."))
errors.register(
    "check_bad_password", __("A password is 1 to {maximum} characters and does not start with /.")
)
errors.register("check_bad_channel", __("Write the channel as @name."))
errors.register("check_bad_expiry", __("Choose one of the expiry buttons."))
errors.register(
    "check_not_admin", __("Make me an admin of {channel} first, so that I can see who is a member.")
)

labels.register(sends.CODE, __("Transfer between users"))
labels.register(tips.CODE, __("Tip"))
labels.register(checks.CODE, __("Check"))


def _received(p: dict) -> str:
    return _("💸 {name} sent you {amount}. See /balance.").format(
        name=who(p.get("name"), p.get("username")), amount=amount(int(p["amount"]), p["asset"])
    )


notice_texts.register("social_received", _received)
notice_texts.register(
    "social_tipped",
    lambda p: _("💸 You received a tip of {amount} in a group. See /balance.").format(
        amount=amount(int(p["amount"]), p["asset"])
    ),
)
notice_texts.register(
    "social_tip_returned",
    lambda p: _("↩️ Your tip of {amount} was not claimed in time and is back in your balance.").format(
        amount=amount(int(p["amount"]), p["asset"])
    ),
)
notice_texts.register(
    "social_check_expired",
    lambda p: _("⏳ Check #{id} expired: {amount} is back in your balance.").format(
        id=p["id"], amount=amount(int(p["amount"]), p["asset"])
    ),
)
