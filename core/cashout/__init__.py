"""Cashout: the address book (and proofs of address ownership), withdrawals and payout batches.
Above platform, money, identity and earn.

Other capabilities import only what ``__all__`` lists (tests/test_imports.py holds them to it).
"""

from core.cashout.tables import payout_batches as payout_batches_table
from core.cashout.tables import withdrawals as withdrawals_table
from core.cashout.withdrawals import hold_for_review

__all__ = ["hold_for_review", "payout_batches_table", "withdrawals_table"]
