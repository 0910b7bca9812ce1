"""The exchange: swap between coins at live rates, and sweep the dust into one coin.

prices (sources' prices, the rate in force, manual prices), sources (CoinGecko, Binance over
aiohttp), quotes (the arithmetic), policy (the settings), swaps (quote, sweep, confirm), tables.
"""

from core.exchange.policy import SWAPPABLE, Policy, policy_for
from core.exchange.prices import NON_SWAPPABLE
from core.exchange.quotes import Leg
from core.exchange.swaps import (
    Confirmation,
    Quote,
    SwapError,
    cancel_quote,
    confirm_quote,
    quote_swap,
    quote_sweep,
)

__all__ = [
    "NON_SWAPPABLE",
    "SWAPPABLE",
    "Confirmation",
    "Leg",
    "Policy",
    "Quote",
    "SwapError",
    "cancel_quote",
    "confirm_quote",
    "policy_for",
    "quote_swap",
    "quote_sweep",
]
