"""The console's reports through the real dispatcher: every chart and period renders a real PNG
(signature checked, size decoded with Pillow) for an empty database and for a year of data, and
its CSV holds exactly the rows core.ops.reports returns."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import insert

from core.loyalty.tables import loyalty_activity
from core.money import ledger
from core.ops import reports
from core.platform.schema import utcnow
from core.play.tables import bets
from core.trust import reserves
from tests.handlers.conftest import ADMIN

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def admin(tg):
    person = tg.person(ADMIN, first_name="Root", username="root")
    await person.send("/start")
    return person


def a_year(conn) -> None:
    """A transfer of each earning source, a bet of each game and some activity on every day of a year."""
    now = utcnow()
    ledger.transfer(
        conn, debit="world", credit="treasury", asset="BTC", amount=10**9, code="deposit", key="d"
    )
    ledger.transfer(
        conn, debit="treasury", credit="faucet_pool", asset="BTC", amount=10**8, code="fund", key="f"
    )
    ledger.transfer(
        conn, debit="treasury", credit="marketing", asset="BTC", amount=10**8, code="fund", key="m"
    )
    rows = []
    for d in range(365):
        at = now - timedelta(days=d, minutes=5)
        ledger.transfer(conn, debit="faucet_pool", credit=f"user:{ADMIN}", asset="BTC", amount=100 + d,
                        code="faucet", key=f"fc{d}", now=at)  # fmt: skip
        if d % 3 == 0:
            ledger.transfer(conn, debit="marketing", credit=f"user:{ADMIN}", asset="BTC", amount=50,
                            code="referral", key=f"rf{d}", now=at)  # fmt: skip
        for n, game in enumerate(("dice", "limbo", "plinko")):
            rows.append(dict(
                user_id=ADMIN, game=game, asset="BTC", amount=1000, payout=(d % 3) * 700, seed_id=1,
                nonce=d * 3 + n, client_seed="c", params="{}", result=0, multiplier_x10k=0,
                idem=f"b{d}-{n}", created_at=at,
            ))  # fmt: skip
    conn.execute(insert(bets), rows)
    today = (now.date() - reports.EPOCH_DAY).days
    conn.execute(
        insert(loyalty_activity), [{"day": today - d, "user_id": ADMIN, "actions": 1} for d in range(365)]
    )
    reserves.record_hot(conn, "BTC", "manual", 5 * 10**6, now)


def photo_of(sent) -> bytes:
    photos = [s for s in sent if s.method == "sendPhoto"]
    assert len(photos) == 1, [s.method for s in sent]
    return next(iter(photos[0].params["_files"].values())).data


def document_of(sent) -> bytes:
    docs = [s for s in sent if s.method == "sendDocument"]
    assert len(docs) == 1, [s.method for s in sent]
    return next(iter(docs[0].params["_files"].values())).data


async def all_charts(tg, db, admin) -> None:
    await admin.send("/admin")
    await admin.tap_button("Reports")
    menu = tg.last_with_buttons(ADMIN)
    for label, data in menu.buttons():
        if "·" not in label:
            continue  # ⬅️ Back
        sent = await admin.tap(data, menu)
        png = photo_of(sent)
        assert png.startswith(PNG)
        with Image.open(io.BytesIO(png)) as img:
            assert img.format == "PNG" and img.size[0] == 900 and img.size[1] >= 500
        kind, days = data.split(":")[2], int(data.split(":")[3])
        csv_bytes = document_of(await admin.tap_button("CSV"))
        rows = list(csv.reader(io.StringIO(csv_bytes.decode())))
        expected = await db.read(reports.report, kind, days)
        assert rows[0] == list(expected.columns)
        assert rows[1:] == [[str(v) for v in r] for r in expected.rows], kind


async def test_every_chart_renders_for_an_empty_database(tg, db, admin):
    await all_charts(tg, db, admin)


async def test_every_chart_renders_for_a_year_of_data(tg, db, admin):
    await db.write(a_year)
    year = await db.read(reports.report, "earnings", 365)
    assert len({r[0] for r in year.rows}) == 365 and {r[1] for r in year.rows} == {"faucet", "referrals"}
    assert len((await db.read(reports.report, "house", 365)).rows) == 365 * 3
    assert (await db.read(reports.report, "liabilities", 7)).rows[0][4] == 5 * 10**6
    await all_charts(tg, db, admin)


async def test_an_unknown_report_is_refused(tg, db, admin):
    await admin.send("/admin")
    sent = await admin.tap("con:chart:nope:7")
    assert [s.method for s in sent] == ["answerCallbackQuery"] and "does not exist" in sent[0].params["text"]
    sent = await admin.tap("con:chart:users:8")
    assert [s.method for s in sent] == ["answerCallbackQuery"]


async def test_charts_are_drawn_in_a_worker_thread(tg, db, admin, monkeypatch):
    import threading

    from handlers.admin import charts

    threads = []
    real = charts.draw

    def spy(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(charts, "draw", spy)
    await admin.send("/admin")
    await admin.tap_button("Reports")
    assert photo_of(await admin.tap_button("Users · 30 d")).startswith(PNG)
    assert threads == [False]  # never on the event loop's thread
