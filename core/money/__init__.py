"""Money: assets and amounts, accounts, the ledger (the only writer of balances), the
treasury's admin moves, and withdrawal address formats. Above platform only.

Other capabilities import only what ``__all__`` lists (tests/test_imports.py holds them to it);
``ledger`` and ``treasury`` are used by their module name (``ledger.transfer(...)``).
"""

from core.money import bulk, ledger, treasury
from core.money.accounts import (
    AD_ESCROW,
    CHECK_ESCROW,
    FAUCET_POOL,
    FEES,
    HOUSE,
    LIQUIDITY,
    MARKETING,
    OFFER_POOL,
    OWNER_ESCROW,
    STAKING,
    TREASURY,
    WITHDRAWALS_PENDING,
    WORLD,
    user_account,
)
from core.money.addresses import EVM_CHAINS, NETWORKS, Address, InvalidAddress, program, validate_address
from core.money.addresses import Reason as AddressReason
from core.money.amounts import MAX_AMOUNT, format_amount, parse_amount, to_decimal
from core.money.assets import ASSET_CODES, ASSETS, POINTS, Asset, get_asset
from core.money.codes import Code
from core.money.ledger import Transfer
from core.money.tables import accounts as accounts_table
from core.money.tables import entries as entries_table
from core.money.tables import transfers as transfers_table
from core.platform import params as _params

# "amount" settings (core.platform.params) are read in the asset's minor units.
_params.register_amount_parser(lambda text, asset: parse_amount(text, get_asset(asset)))

__all__ = [
    "AD_ESCROW",
    "OFFER_POOL",
    "ASSETS",
    "ASSET_CODES",
    "Address",
    "AddressReason",
    "CHECK_ESCROW",
    "Code",
    "Asset",
    "EVM_CHAINS",
    "FAUCET_POOL",
    "FEES",
    "HOUSE",
    "LIQUIDITY",
    "InvalidAddress",
    "MARKETING",
    "MAX_AMOUNT",
    "NETWORKS",
    "OWNER_ESCROW",
    "POINTS",
    "STAKING",
    "TREASURY",
    "Transfer",
    "WITHDRAWALS_PENDING",
    "WORLD",
    "accounts_table",
    "bulk",
    "entries_table",
    "format_amount",
    "get_asset",
    "ledger",
    "parse_amount",
    "program",
    "to_decimal",
    "transfers_table",
    "treasury",
    "user_account",
    "validate_address",
]
