"""A small, hand-counted world for the dashboard and reports: three users, money through the
ledger (faucet, fees, ad fees), bets, a withdrawal waiting, a stuck payout batch, an ad in review.

Every figure the dashboard should show is written next to what makes it (see EXPECTED)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert

from core.cashout.tables import payout_batches, withdrawals
from core.earn.tables import ad_campaigns
from core.identity.tables import users
from core.money import ledger
from core.play.tables import bets, crash_bets

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _user(conn: Connection, uid: int, created: datetime, seen: datetime, blocked: bool = False) -> None:
    conn.execute(
        insert(users).values(
            id=uid, username=f"u{uid}", first_name=f"U{uid}", language_code="en",
            created_at=created, seen_at=seen, is_blocked=blocked,
        )
    )  # fmt: skip


def _t(
    conn: Connection, debit: str, credit: str, amount: int, code: str, key: str, at: datetime, asset="BTC"
):
    return ledger.transfer(
        conn, debit=debit, credit=credit, asset=asset, amount=amount, code=code, key=key, now=at
    )


def _bet(conn: Connection, n: int, game: str, amount: int, payout: int, at: datetime) -> None:
    conn.execute(
        insert(bets).values(
            user_id=1, game=game, asset="BTC", amount=amount, payout=payout, seed_id=1, nonce=n,
            client_seed="c", params="{}", result=0, multiplier_x10k=0, idem=f"bet{n}", created_at=at,
        )
    )  # fmt: skip


def seed(conn: Connection, now: datetime = NOW) -> None:
    _user(conn, 1, now - 30 * DAY, now - timedelta(hours=1))  # active today and this week
    _user(conn, 2, now - timedelta(hours=2), now - 2 * DAY)  # new today, active this week
    _user(conn, 3, now - 10 * DAY, now - 10 * DAY, blocked=True)
    old = now - 30 * DAY
    _t(conn, "world", "treasury", 10_000_000, "deposit", "dep", old)
    _t(conn, "world", "treasury", 5_000_000, "deposit", "dep-ltc", old, asset="LTC")
    _t(conn, "treasury", "faucet_pool", 70_000, "fund", "fund-faucet", old)
    _t(conn, "treasury", "ad_escrow", 10_000, "fund", "fund-ads", old)
    _t(conn, "treasury", "liquidity", 10_000, "fund", "fund-liq", old)
    for d in range(7):  # 1,000 a day for the last 7 days (today included)
        _t(conn, "faucet_pool", "user:1", 1_000, "faucet", f"faucet{d}", now - d * DAY)
    _t(conn, "faucet_pool", "user:1", 5_000, "faucet", "faucet-old", now - 20 * DAY)  # before the pace window
    _t(conn, "treasury", "user:1", 100_000, "admin_credit", "gift", old)
    _t(conn, "user:1", "withdrawals_pending", 20_000, "withdrawal", "wd", now - timedelta(hours=3))
    _t(conn, "withdrawals_pending", "fees", 500, "withdrawal_fee", "wdfee", now - timedelta(hours=3))
    _t(conn, "liquidity", "fees", 300, "swap_fee", "swapfee", now - 8 * DAY)  # not in the 7 days
    _t(conn, "liquidity", "fees", 100, "swap_fee", "swapfee2", now - 3 * DAY)
    _t(conn, "ad_escrow", "fees", 200, "ad_fee", "adfee", now - 2 * DAY)
    _t(conn, "fees", "ad_escrow", 50, "ad_invalid", "adback", now - 2 * DAY)
    _t(conn, "ad_escrow", "user:2", 400, "ad_view", "adview", now - 2 * DAY)
    _bet(conn, 1, "dice", 1_000, 0, now - timedelta(hours=1))  # house +1,000 today
    _bet(conn, 2, "limbo", 1_000, 2_500, now - 3 * DAY)  # house -1,500 this week
    conn.execute(
        insert(crash_bets).values(
            round_id=1, user_id=1, asset="BTC", amount=300, status="lost", payout=0, reserve_id=1,
            idem="cb1", chat_id=1, created_at=now - timedelta(hours=2), settled_at=now - timedelta(hours=2),
        )
    )  # fmt: skip  # house +300 today
    conn.execute(
        insert(withdrawals).values(
            user_id=1, asset="BTC", amount=20_000, fee=500, address="bc1q", chain="btc", state="requested",
            created_at=now - timedelta(hours=3), updated_at=now - timedelta(hours=3),
        )
    )  # fmt: skip
    conn.execute(
        insert(payout_batches).values(
            key="b1", asset="BTC", backend="manual", state="sending",
            created_at=now - 3 * timedelta(hours=1), updated_at=now - 2 * timedelta(hours=1),
        )
    )  # fmt: skip
    conn.execute(
        insert(ad_campaigns).values(
            advertiser_id=2, kind="visit", title="Ad", url="https://e.x", asset="BTC", price=10, fee=2,
            views=10, frequency=86400, status="review", created_at=now, updated_at=now,
        )
    )  # fmt: skip


# user:1 holds 7,000 + 5,000 + 100,000 - 20,000 = 92,000; user:2 holds 400.
EXPECTED = {
    "users": (3, 1, 2, 1, 1),  # total, active 24 h, active 7 d, new today, blocked
    "liabilities_btc": 92_400,
    "treasury_btc": 10_000_000 - 70_000 - 10_000 - 10_000 - 100_000,
    "revenue_today": {"fees": {"BTC": 500}, "house": {"BTC": 1_300}},
    "revenue_week": {"fees": {"BTC": 600}, "ad_fees": {"BTC": 150}, "house": {"BTC": -200}},
}
