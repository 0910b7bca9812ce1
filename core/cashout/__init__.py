"""Cashout: the address book (and proofs of address ownership), withdrawals and payout batches.
Above platform, money, identity and earn; no other capability imports it yet.
"""

__all__: list[str] = []
