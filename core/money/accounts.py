"""Who can hold money: users and the platform's system accounts.

An account is (owner, asset). Owners are strings: ``user:<telegram id>`` for
users, or a system account name. System accounts make every flow explicit:

- world: on-chain in and out; its negative balance is what the operator put in.
- treasury: the operator's float, funded from world by /deposit.
- faucet_pool, marketing (referrals, RP, bonuses), house (games), liquidity (swaps),
  staking, offer_pool (offerwall credits): funded from treasury by /fund and paid out by
  their features.
- ad_escrow, owner_escrow: money advertisers and faucet owners set aside.
- fees: what the platform earns. withdrawals_pending: cash-outs on their way out.
- check_escrow: what checks hold for their claimants, one sub-account per check
  (``check_escrow:<id>``, core.social.checks).

Features may add sub-accounts of a system account, ``<system>:<ref>``
(e.g. ``owner_escrow:site:12``), which obey the same rules.
"""

from __future__ import annotations

import re

from core.errors import UnknownAccount

WORLD = "world"
TREASURY = "treasury"
FAUCET_POOL = "faucet_pool"
MARKETING = "marketing"
HOUSE = "house"
AD_ESCROW = "ad_escrow"
OWNER_ESCROW = "owner_escrow"
FEES = "fees"
LIQUIDITY = "liquidity"
STAKING = "staking"
WITHDRAWALS_PENDING = "withdrawals_pending"
OFFER_POOL = "offer_pool"  # pays offerwall credits (core.earn.offers)
CHECK_ESCROW = "check_escrow"

SYSTEM_ACCOUNTS: tuple[str, ...] = (
    TREASURY,
    FAUCET_POOL,
    MARKETING,
    HOUSE,
    AD_ESCROW,
    OWNER_ESCROW,
    FEES,
    LIQUIDITY,
    STAKING,
    WITHDRAWALS_PENDING,
    CHECK_ESCROW,
    WORLD,
    OFFER_POOL,
)
# What /fund may move treasury money into: pools that features pay out from.
FUNDABLE: tuple[str, ...] = (FAUCET_POOL, MARKETING, HOUSE, LIQUIDITY, STAKING, OFFER_POOL)

_USER = re.compile(r"user:[1-9][0-9]{0,18}", re.ASCII)
_SYSTEM = re.compile(r"[a-z_]{2,32}(:[A-Za-z0-9_.:-]{1,30})?", re.ASCII)


def user_account(user_id: int) -> str:
    return f"user:{int(user_id)}"


def check_owner(owner: str) -> str:
    """Validate an owner string; system owners must be a known system account or its sub-account."""
    if not isinstance(owner, str):
        raise UnknownAccount(owner)
    if owner.startswith("user:"):
        ok = _USER.fullmatch(owner)
    else:
        ok = _SYSTEM.fullmatch(owner) and owner.split(":", 1)[0] in SYSTEM_ACCOUNTS
    if not ok:
        raise UnknownAccount(owner)
    return owner


def parse_system_account(name: str, allowed: tuple[str, ...] = SYSTEM_ACCOUNTS) -> str:
    """Read an account name as an admin types it: 'faucet pool', 'faucet-pool', 'Faucet_Pool'."""
    norm = re.sub(r"[\s-]+", "_", (name or "").strip().lower())
    aliases = {"faucet": FAUCET_POOL, "pool": FAUCET_POOL, "ads": AD_ESCROW, "referrals": MARKETING}
    norm = aliases.get(norm, norm)
    if norm not in allowed:
        raise UnknownAccount(name)
    return norm
