"""The reports' rows on the hand-counted world (tests/core/ops/world.py), SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import insert

from core.loyalty.tables import loyalty_activity
from core.ops import reports
from tests.core.ops.world import NOW, seed

TODAY, D2, D3 = "2026-12-07", "2026-12-05", "2026-12-04"


async def test_earnings_house_users_and_liabilities(db):
    await db.write(seed)
    await db.write(lambda c: c.execute(insert(loyalty_activity), [
        {"day": 20794, "user_id": 1, "actions": 3}, {"day": 20794, "user_id": 2, "actions": 1},
    ]))  # fmt: skip  # 20794 = 2026-12-07
    earn = await db.read(reports.report, "earnings", 7, NOW)
    assert earn.columns == ("day", "source", "asset", "amount")
    assert (TODAY, "faucet", "BTC", 1_000) in earn.rows and (D2, "ads", "BTC", 400) in earn.rows
    assert sum(r[3] for r in earn.rows if r[1] == "faucet") == 7_000  # the older claim is outside 7 days
    assert sum(r[3] for r in (await db.read(reports.report, "earnings", 30, NOW)).rows) == 12_400

    house = await db.read(reports.report, "house", 7, NOW)
    assert house.rows == [
        (D3, "limbo", "BTC", -1_500),
        (TODAY, "crash", "BTC", 300),
        (TODAY, "dice", "BTC", 1_000),
    ]

    users = await db.read(reports.report, "users", 7, NOW)
    assert len(users.rows) == 7 and users.rows[-1] == (TODAY, 1, 2)
    assert (
        sum(r[1] for r in (await db.read(reports.report, "users", 30, NOW)).rows) == 2
    )  # user 1 joined 30 days ago

    owed = await db.read(reports.report, "liabilities", 7, NOW)
    assert owed.rows == [("BTC", 92_400, 0, 0, 0)]


async def test_reports_of_an_empty_database(db):
    for kind in reports.KINDS:
        for days in reports.PERIODS:
            r = await db.read(reports.report, kind, days, NOW)
            assert r.rows == ([] if kind != "users" else [r[:1] + (0, 0) for r in r.rows])
