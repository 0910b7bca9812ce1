"""Trust: proof of liabilities, reserves against them, withdrawals followed on chain.
Above platform, money and cashout (whose tables it reads); ops reads the reserves (the console's reports).
"""

from core.trust import reserves

__all__ = ["reserves"]
