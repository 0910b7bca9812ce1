"""Trust: proof of liabilities, reserves against them, withdrawals followed on chain.
Above platform, money and cashout (whose tables it reads); no other capability imports it yet.
"""

__all__: list[str] = []
