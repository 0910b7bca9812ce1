"""Money for tests: coins put in by the operator (world -> treasury) and handed to an account."""

from core.money import ledger
from core.money.accounts import TREASURY, WORLD


async def fund(db, account: str, amount: int, asset: str = "BTC", key: str = "x", code: str = "fund") -> None:
    await db.write(
        ledger.transfer,
        debit=WORLD,
        credit=TREASURY,
        asset=asset,
        amount=amount,
        code="deposit",
        key=f"dep:{key}",
    )
    await db.write(
        ledger.transfer,
        debit=TREASURY,
        credit=account,
        asset=asset,
        amount=amount,
        code=code,
        key=f"fund:{key}",
    )


async def available(db, owner: str, asset: str = "BTC") -> int:
    return (await db.read(ledger.balance, owner, asset)).available
