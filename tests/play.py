"""Money for game tests: fund the house and players through the ledger, as an operator would."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

from core.money import ledger
from core.money.accounts import HOUSE, TREASURY, WORLD, user_account
from core.platform.schema import utcnow
from core.play import crash
from core.play.stakes import Rules

_keys = itertools.count()
RULES = Rules(edge_bp=100, min_bet=100, max_bet=10**12, max_profit_bp=100, limbo_max=100_000)


def fund(conn, owner: str, amount: int, asset: str = "DOGE") -> None:
    n = next(_keys)
    ledger.transfer(
        conn, debit=WORLD, credit=TREASURY, asset=asset, amount=amount, code="deposit", key=f"t:d:{n}"
    )
    ledger.transfer(
        conn, debit=TREASURY, credit=owner, asset=asset, amount=amount, code="fund", key=f"t:f:{n}"
    )


async def setup_money(db, players: dict[int, int], house: int = 10**14, asset: str = "DOGE") -> None:
    def go(conn):
        fund(conn, HOUSE, house, asset)
        for uid, amount in players.items():
            if amount:
                fund(conn, user_account(uid), amount, asset)

    await db.write(go)


async def balance(db, owner: str, asset: str = "DOGE") -> int:
    return (await db.read(ledger.balance, owner, asset)).available


TIP = 900_000  # the Bitcoin height the tests' chains are committed at


async def new_chain(db, length: int, key: str, now=None) -> crash.Chain:
    """/crashnew as the handler does it: hash the chain off the event loop, then store it. The
    commitment is dated an hour back, so its salt block (TIP + 6) may be given at ``now``."""
    built = await asyncio.to_thread(crash.build_chain, length)
    when = (now or utcnow()) - timedelta(hours=1)
    return await db.write(
        crash.create_chain, built, secret_key=key, admin_id=1, tip_height=TIP, salt_blocks=6, now=when
    )


async def load_chain(db, chains: crash.ChainCache) -> None:
    """Load the newest chain into ``chains``, as the runner does before opening its rounds."""
    chain = await db.read(crash.latest_chain)
    chains.load(await db.read(crash.sealed_chain, chain.id))
