"""Admin texts (issue 12, item 17) and the small words of item 18, through the real dispatcher:
/params, /set and /audit in coin units and typed durations, /audit in sentences that never cut an
HTML entity, plurals right; "every 1 h"; a way back after rating a faucet site."""

from __future__ import annotations

import re

from core.platform import audit
from tests.fakes.formatting import parse_html
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts

RAW_DICT = re.compile(r"\{'|\"\w+\": |': ")


async def admin_of(tg):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    return admin


async def test_params_show_coin_units_typed_durations_and_percentages(tg, db):
    admin = await admin_of(tg)
    out = texts(await admin.send("/params faucet."))
    assert "<code>faucet.reward.BTC</code> = 0.00000" in out and " BTC <i>(default)</i>" in out
    assert "<code>faucet.interval.BTC</code> = 1h <i>" in out
    assert "<code>faucet.retry_wait</code> = 5s <i>" in out and "= 3600" not in out
    assert "<code>referral.commission</code> = 10% <i>" in texts(
        await admin.send("/params referral.commission")
    )


async def test_set_answers_in_units_as_typed(tg, db):
    admin = await admin_of(tg)
    assert "faucet.interval.BTC is now 2h." in texts(await admin.send("/set faucet.interval.BTC 2h"))
    assert "faucet.interval.BTC is now 90m." in texts(await admin.send("/set faucet.interval.BTC 5400"))
    assert "faucet.reward.BTC is now 0.00000200 BTC." in texts(
        await admin.send("/set faucet.reward.BTC 0.000002")
    )
    assert "<code>faucet.interval.BTC</code> = 90m <i>(admin)</i>" in texts(
        await admin.send("/params faucet.interval.BTC")
    )


async def test_audit_lines_are_sentences_in_coin_units(tg, db):
    admin = await admin_of(tg)
    await tg.person(111).send("/start")
    await admin.send("/deposit 1 BTC cold wallet")
    await admin.send("/credit 111 0.0001 BTC welcome gift")
    await admin.send("/set faucet.interval.BTC 2h")
    out = texts(await admin.send("/audit"))
    assert f"{ADMIN}: set <code>faucet.interval.BTC</code> to 2h" in out
    assert f"{ADMIN}: credited 0.00010000 BTC to user 111: welcome gift" in out
    assert f"{ADMIN}: recorded a deposit of 1.00000000 BTC into the treasury: cold wallet" in out
    assert not RAW_DICT.search(out) and "100000000" not in out


async def test_audit_never_cuts_an_html_entity(tg, db):
    admin = await admin_of(tg)
    await tg.person(111).send("/start")
    await admin.send("/deposit 1 BTC float")
    reason = "&" * 200  # every character an entity once escaped
    await admin.send(f"/credit 111 0.0001 BTC {reason}")
    out = texts(await admin.send("/audit"))
    plain, _entities = parse_html(out)  # what Telegram does: a cut entity would fail here
    assert "&&&" in plain and "…" in plain
    assert len(out) < 4096


async def test_audit_of_an_action_without_a_sentence_reads_as_words(tg, db):
    admin = await admin_of(tg)
    from core.platform.db import Database  # noqa: F401 - the action another feature may add

    await db.write(
        audit.record,
        "promo_granted",
        actor=None,
        target="user:5",
        asset="DOGE",
        amount=150_000_000,
        note="<b>",
    )
    out = texts(await admin.send("/audit"))
    assert "system: promo granted, user:5, 1.50000000 DOGE, note &lt;b&gt;" in out


def test_every_1_h_reads_every_1_h():
    from handlers.common.formatting import wait_text
    from handlers.common.i18n import get_i18n

    i18n = get_i18n()
    with i18n.context(), i18n.use_locale("en"):
        assert wait_text(3600) == "1 h" and wait_text(7200) == "2 h" and wait_text(5400) == "1 h 30 min"


async def test_thanks_for_rating_keeps_a_way_back_and_every_1_h(tg, db):
    from tests.handlers.earn.test_owner import register

    owner, _key = await register(tg, db)
    await owner.send("/owner fund 1 0.0005")
    from core.earn import sites as faucet_sites

    await db.write(lambda c: c.execute(faucet_sites.sites.update().values(timer=3600)))
    alice = tg.person(111)
    listing = texts(await alice.send("/faucets"))
    assert "every 1 h ·" in listing and "1 h 0 min" not in listing
    ask = await alice.tap_button("Rate")
    assert ("⬅️ Menu", "m:home") in ask[0].buttons()
    thanks = await alice.tap_button("⭐⭐⭐⭐")
    assert "Thanks for rating" in texts(thanks)
    assert ("🌐 Faucet sites", "m:faucets") in thanks[0].buttons() and ("⬅️ Menu", "m:home") in thanks[
        0
    ].buttons()
    back = await alice.tap_button("Faucet sites")
    assert "Drip" in texts(back)
