"""The refusals of loyalty, with the values their messages need."""

from __future__ import annotations

from core.errors import DomainError


class LoyaltyError(DomainError):
    """reasons: already_checked_in(seconds), not_enough_points(need), bad_points, convert_off(asset),
    quote_changed, unknown_boost(number), boost_running(bp, seconds), boost_mismatch(bp),
    freeze_limit(max), stake_too_much(amount), unstake_too_much(amount), bad_stake, already_done."""
