"""Earn: the faucet, faucet sites and their payees, referrals, payout links (who a FaucetPay-style
payout to an address or name reaches). Above platform, money and identity.

Other capabilities import only what ``__all__`` lists (tests/test_imports.py holds them to it).
"""

from core.earn import payout_links, referrals

__all__ = ["payout_links", "referrals"]
