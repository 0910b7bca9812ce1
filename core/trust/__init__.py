"""Trust: proof of liabilities, reserves against them, withdrawals followed on chain."""
