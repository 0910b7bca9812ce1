"""Loyalty and yield: reward points (RP), the daily check-in and bonus, boosts, levels, DUST staking.

Other capabilities use only these names. A feature that pays a user a reward calls
``reward_paid(conn, rules_from(params), user_id, source, asset, amount, key, now)`` in the same
transaction, once its own transfer was new (source ``faucet``, ``ad``, ``offer`` or ``wager``).
"""

from core.loyalty.errors import LoyaltyError
from core.loyalty.levels import parse_levels
from core.loyalty.points import Extras, Rules, reward_paid, rules_from
from core.loyalty.tables import loyalty_activity as activity_table

__all__ = ["Extras", "LoyaltyError", "Rules", "activity_table", "parse_levels", "reward_paid", "rules_from"]
