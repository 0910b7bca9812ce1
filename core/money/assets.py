"""The asset registry: every coin the ledger knows, with its minor unit.

An amount is always an ``int`` count of the asset's minor unit (satoshi-like);
``decimals`` says how many minor units make one coin (10**decimals).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import UnknownAsset


@dataclass(frozen=True, slots=True)
class Asset:
    code: str
    name: str
    decimals: int

    @property
    def unit(self) -> int:
        """Minor units in one whole coin."""
        return 10**self.decimals


ASSETS: dict[str, Asset] = {
    a.code: a
    for a in (
        Asset("BTC", "Bitcoin", 8),
        Asset("LTC", "Litecoin", 8),
        Asset("DOGE", "Dogecoin", 8),
        Asset("USDT", "Tether USD", 6),
        Asset("TRX", "TRON", 6),
        Asset("DUST", "Dustpan token", 8),
    )
}
ASSET_CODES: tuple[str, ...] = tuple(ASSETS)

# Reward points (core.loyalty): a ledger asset like the coins, in whole points, but never a
# coin: not in ASSETS, so no withdrawal, game, faucet or address ever takes it, and a user
# typing "RP" where a coin is asked for gets UnknownAsset.
POINTS = Asset("RP", "Reward points", 0)
# Everything the ledger can hold: the coins, then the points.
LEDGER_ASSETS: dict[str, Asset] = {**ASSETS, POINTS.code: POINTS}


def get_asset(code: str) -> Asset:
    """Look an asset up by ticker, case-insensitively; raise UnknownAsset otherwise."""
    asset = ASSETS.get(code.strip().upper()) if isinstance(code, str) else None
    if asset is None:
        raise UnknownAsset(code)
    return asset


def ledger_asset(code: str) -> Asset:
    """``get_asset`` for anything the ledger holds, reward points included (to show amounts)."""
    asset = LEDGER_ASSETS.get(code.strip().upper()) if isinstance(code, str) else None
    if asset is None:
        raise UnknownAsset(code)
    return asset
