"""The dashboard's numbers on a small world counted by hand (tests/core/ops/world.py), SQLite and PostgreSQL."""

from __future__ import annotations

from core.ops import dashboard as dash
from tests.core.ops.world import EXPECTED, NOW, seed


async def test_dashboard_counts_a_small_world(db):
    await db.write(seed)
    d = await db.read(dash.dashboard, NOW)
    assert (d.users, d.active_day, d.active_week, d.new_today, d.blocked) == EXPECTED["users"]
    btc = {c.asset: c for c in d.coins}["BTC"]
    assert (btc.liabilities, btc.treasury) == (EXPECTED["liabilities_btc"], EXPECTED["treasury_btc"])
    assert {c.asset: c.liabilities for c in d.coins}["LTC"] == 0
    assert d.revenue_today == {"fees": {"BTC": 500}, "ad_fees": {}, "house": {"BTC": 1_300}}
    assert d.revenue_week == EXPECTED["revenue_week"]
    faucet = {f.asset: f for f in d.faucet}["BTC"]
    assert (faucet.pool, faucet.paid_week, faucet.days_left) == (
        58_000,
        7_000,
        58,
    )  # 70,000 - 12,000 paid, at 1,000 a day
    assert d.withdrawals == {"BTC": (1, 20_000)} and d.awaiting_approval == 1
    kinds = {(a.kind, a.asset) for a in d.attention}
    assert kinds == {("dry_house", "BTC"), ("stuck_batch", "BTC"), ("ad_review", "")}


async def test_dashboard_of_an_empty_database(db):
    d = await db.read(dash.dashboard, NOW)
    assert (d.users, d.coins, d.faucet, d.withdrawals, d.attention) == (0, [], [], {}, [])
    assert d.revenue_week == {"fees": {}, "ad_fees": {}, "house": {}}


async def test_users_overview(db):
    await db.write(seed)
    o = await db.read(dash.users_overview, NOW)
    assert (o.total, o.new_today, o.active_week, o.blocked) == (3, 1, 2, 1)
    assert [u[0] for u in o.newest] == [2, 3, 1]


async def test_a_user_who_blocked_the_bot_is_not_active_anywhere(db):
    """Seen an hour ago but blocked since (Telegram answered 403): counted apart as blocked, never
    as active, alike on the dashboard, the Users screen and /admin's counts."""
    from datetime import timedelta

    from core.ops import moderation
    from tests.core.ops.world import _user

    await db.write(seed)
    await db.write(_user, 4, NOW - 30 * timedelta(days=1), NOW - timedelta(hours=1), blocked=True)
    d = await db.read(dash.dashboard, NOW)
    o = await db.read(dash.users_overview, NOW)
    n = await db.read(moderation.counts, NOW)
    assert (d.users, d.active_day, d.active_week, d.blocked) == (4, 1, 2, 2)
    assert (o.active_week, o.blocked) == (2, 2)
    assert (n.active_day, n.active_week, n.blocked) == (1, 2, 2)
