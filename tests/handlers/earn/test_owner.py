"""/owner, /address and /faucets through the real dispatcher."""

import re

from core.earn import payout_links
from core.earn import sites as faucet_sites
from core.money.accounts import user_account
from tests.handlers.harness import texts
from tests.money import available, fund

OWNER, ALICE = 500, 111
ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


async def register(tg, db):
    owner = tg.person(OWNER, first_name="Olga", username="olga")
    await owner.send("/start")
    await fund(db, user_account(OWNER), 100_000)
    out = texts(await owner.send("/owner add Drip https://drip.example BTC 0.0000001 5m"))
    assert "Site #1 registered" in out
    key = re.search(r"<code>([0-9a-f]{40})</code>", out)[1]
    return owner, key


async def test_owner_registers_funds_caps_and_rotates(tg, db):
    owner, key = await register(tg, db)
    site = await db.read(faucet_sites.site_by_key, key)
    assert site.id == 1 and site.reward == 10 and site.timer == 300
    assert "Moved 0.00050000 BTC to the escrow of site #1" in texts(await owner.send("/owner fund 1 0.0005"))
    assert await available(db, faucet_sites.escrow(1)) == 50_000
    assert await available(db, user_account(OWNER)) == 50_000
    assert "at most 0.00001000 BTC a day" in texts(await owner.send("/owner cap 1 0.00001"))
    assert "1.2.3.4" in texts(await owner.send("/owner ips 1 1.2.3.4,::1"))
    assert "not an IP address" in texts(await owner.send("/owner ips 1 1.2.3.999"))
    out = texts(await owner.send("/owner key 1"))
    new_key = re.search(r"<code>([0-9a-f]{40})</code>", out)[1]
    assert await db.read(faucet_sites.site_by_key, key) is None
    assert (await db.read(faucet_sites.site_by_key, new_key)).id == 1
    listing = await owner.send("/owner")
    assert "#1 Drip: escrow 0.00050000 BTC" in texts(listing)
    assert "No payouts yet" in texts(await owner.tap_button("#1 payouts"))


async def test_owner_bad_input(tg, db):
    owner, _key = await register(tg, db)
    assert "/owner add NAME URL" in texts(await owner.send("/owner frobnicate"))
    assert "http:// or https://" in texts(await owner.send("/owner add X ftp://x BTC 0.0000001 5m"))
    assert "Unknown coin" in texts(await owner.send("/owner add X https://x.example XYZ 1 5m"))
    terms = "timer between 1 minute and 7 days"
    for timer in ("30s", "8d", "soon"):
        out = texts(await owner.send(f"/owner add X https://x.example BTC 0.0000001 {timer}"))
        assert terms in out and "owner.timer" not in out, timer
    assert len(await db.read(faucet_sites.sites_of, OWNER)) == 1  # none of those registered
    assert "no faucet site #9" in texts(await owner.send("/owner fund 9 0.1"))
    assert "Not enough BTC" in texts(await owner.send("/owner fund 1 5"))
    stranger = tg.person(ALICE)
    assert "no faucet site #1" in texts(await stranger.send("/owner key 1"))


async def test_address_links_and_lists(tg, db):
    """One address list: what a user saves with /address is where withdrawals go and
    where faucet sites find them."""
    alice = tg.person(ALICE)
    assert f"Saved btc: BTC <code>{ADDR}</code>" in texts(await alice.send(f"/address btc {ADDR}"))
    assert await db.read(payout_links.find_user, "BTC", ADDR) == ALICE
    listing = texts(await alice.send("/address"))
    assert ADDR in listing and "Faucet sites pay you" in listing
    assert ADDR in texts(await alice.send("/addresses"))  # the same list under its other name
    assert "checksum does not match" in texts(
        await alice.send("/address BTC 1BoatSLRHtKNngkdXEeobR76b53LETtpyX")
    )
    bob = tg.person(222, username="bob")
    assert "already linked" in texts(await bob.send(f"/address BTC {ADDR}"))
    assert "Address btc removed" in texts(await alice.send(f"/address remove BTC {ADDR}"))
    assert await db.read(payout_links.find_user, "BTC", ADDR) is None


async def test_directory_lists_funded_sites_and_rating(tg, db):
    owner, _key = await register(tg, db)
    alice = tg.person(ALICE)
    assert "No faucet sites" in texts(await alice.send("/faucets"))
    await owner.send("/owner fund 1 0.0005")
    sent = await alice.send("/faucets")
    assert "Drip: 0.00000010 BTC every 5 min" in texts(sent)
    assert ("🔗 Drip", "https://drip.example") in sent[0].buttons()
    await alice.tap_button("Rate")
    assert "Thanks for rating" in texts(await alice.tap_button("⭐⭐⭐⭐"))
    assert "⭐4.0" in texts(await alice.send("/faucets"))
    await alice.send("/faucets")
    await alice.tap_button("Rate")
    sent = await alice.tap_button("⭐⭐")
    assert "already rated" in [s for s in sent if s.method == "answerCallbackQuery"][0].text


async def test_forged_site_ids_in_buttons_are_stale_buttons(tg, db):
    owner, _key = await register(tg, db)
    for forged in (f"ow:{10**19}", "ow:0", f"fr:{10**19}:0", f"fr:{10**19}:3", "fr:1:9"):
        sent = await owner.tap(forged)
        alert = [s for s in sent if s.method == "answerCallbackQuery"][0].text
        assert "no longer valid" in alert, forged


async def test_owner_withdraws_escrow_to_his_balance(tg, db):
    owner, _key = await register(tg, db)
    await owner.send("/owner fund 1 0.0005")
    out = texts(await owner.send("/owner withdraw 1 0.0002"))
    assert "Returned 0.00020000 BTC from the escrow of site #1 to your balance" in out
    assert await available(db, faucet_sites.escrow(1)) == 30_000
    assert await available(db, user_account(OWNER)) == 70_000
    assert "#1 Drip: escrow 0.00030000 BTC" in texts(await owner.send("/owner"))


async def test_owner_withdraw_and_remove_refuse_bad_input(tg, db):
    owner, _key = await register(tg, db)
    await owner.send("/owner fund 1 0.0005")
    cases = {
        "/owner withdraw 1 0.0006": "Site #1 has only 0.00050000 BTC available in its escrow",
        "/owner withdraw 1 0": "greater than zero",
        "/owner withdraw 1 -0.0001": "must be positive",
        "/owner withdraw 1 0.000000001": "at most 8 decimal places",
        "/owner withdraw 1 lots": "That is not an amount",
        "/owner withdraw 9 0.0001": "no faucet site #9",
        "/owner remove 9": "no faucet site #9",
        "/owner remove x": "no faucet site #-1",
    }
    for command, expected in cases.items():
        assert expected in texts(await owner.send(command)), command
    stranger = tg.person(ALICE)
    assert "no faucet site #1" in texts(await stranger.send("/owner withdraw 1 0.0001"))
    assert "no faucet site #1" in texts(await stranger.send("/owner remove 1"))
    assert await available(db, faucet_sites.escrow(1)) == 50_000  # nothing moved
    assert (await db.read(faucet_sites.get_site, 1)).active


async def test_owner_removes_a_site(tg, db):
    owner, key = await register(tg, db)
    await owner.send("/owner fund 1 0.0005")
    alice = tg.person(ALICE)
    assert "Drip" in texts(await alice.send("/faucets"))
    out = texts(await owner.send("/owner remove 1"))
    assert "Site #1 is removed" in out and "Returned 0.00050000 BTC" in out
    assert await available(db, user_account(OWNER)) == 100_000
    assert await db.read(faucet_sites.site_by_key, key) is None  # the API key died with it
    assert "No faucet sites" in texts(await alice.send("/faucets"))
    again = texts(await owner.send("/owner remove 1"))
    assert "Site #1 is removed" in again and "Nothing was left" in again
    assert "was removed" in texts(await owner.send("/owner fund 1 0.0001"))
    assert "#1 Drip: removed" in texts(await owner.send("/owner"))
    assert "/owner withdraw ID AMOUNT" in texts(await owner.send("/owner help"))
    assert "/owner remove ID" in texts(await owner.send("/owner help"))
