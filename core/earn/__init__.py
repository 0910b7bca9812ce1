"""Earn: the faucet, faucet sites and their payees, referrals, payout links (who a FaucetPay-style
payout to an address or name reaches). Above platform, money and identity.

Other capabilities import only what ``__all__`` lists (tests/test_imports.py holds them to it).
"""

from core.earn import payout_links, referrals
from core.earn.tables import ad_campaigns as ad_campaigns_table

__all__ = ["ad_campaigns_table", "payout_links", "referrals"]
