"""/swap, /sweep and the /balance button through the real dispatcher: every bad input gets a
clear answer and moves nothing; Confirm twice executes once; forged and stale buttons fail."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from core.exchange.tables import exchange_prices, swap_quotes
from core.money import ledger
from core.money.accounts import FEES, LIQUIDITY, user_account
from core.platform.schema import utcnow
from tests.exchange import fund_liquidity, set_prices
from tests.handlers.harness import texts
from tests.money import available, fund

ALICE, MALLORY = 111, 666


async def ready(tg, db, user=ALICE):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10**12, "DOGE": 10**15, "BTC": 10**8})
    p = tg.person(user)
    await p.send("/start")
    await fund(db, user_account(user), 100_000, "BTC", key=f"{user}:btc")
    return p


async def books(db, user=ALICE):
    return await db.read(ledger.balances, user_account(user)), await db.read(ledger.balances, LIQUIDITY)


async def test_typed_swap_quote_and_confirm(tg, db):
    alice = await ready(tg, db)
    out = texts(await alice.send("/swap 0.001 BTC USDT"))
    for part in ("You give: 0.00100000 BTC", "Rate: 1 BTC = 60000 USDT", "Spread: 1% (0.600000 USDT)"):
        assert part in out
    assert "You receive: <b>59.400000 USDT</b>" in out and "30 s" in out
    done = texts(await alice.tap_button("Confirm"))
    assert "Done: 0.00100000 BTC swapped for 59.400000 USDT" in done
    assert await available(db, user_account(ALICE), "USDT") == 59_400_000
    assert await available(db, FEES, "USDT") == 600_000
    hist = texts(await alice.send("/history"))
    assert "Swap" in hist


async def test_a_second_confirm_moves_nothing(tg, db):
    alice = await ready(tg, db)
    await alice.send("/swap 0.0005 BTC USDT")
    quote = tg.last_with_buttons(ALICE)
    ok = quote.buttons()[0][1]
    await alice.tap(ok, quote)
    again = texts(await alice.tap(ok, quote))
    assert "already confirmed" in again
    assert await available(db, user_account(ALICE), "BTC") == 50_000


async def test_buttons_all_half_and_typed(tg, db):
    alice = await ready(tg, db)
    await alice.send("/swap")
    await alice.tap_button("BTC")
    await alice.tap_button("DOGE")
    out = texts(await alice.tap_button("Half"))
    assert "You give: 0.00050000 BTC" in out
    await alice.tap_button("Cancel")
    await alice.send("/swap")
    await alice.tap_button("BTC")
    await alice.tap_button("USDT")
    await alice.tap_button("Type")
    out = texts(await alice.send("0.0002"))
    assert "You give: 0.00020000 BTC" in out
    await alice.tap_button("Confirm")
    await alice.send("/swap all BTC DOGE")
    await alice.tap_button("Confirm")
    assert await available(db, user_account(ALICE), "BTC") == 0


@pytest.mark.parametrize(
    "command,answer",
    [
        ("/swap 1 XMR BTC", "Unknown coin"),
        ("/swap 0.001 BTC XMR", "Unknown coin"),
        ("/swap 0.001 BTC btc", "two different coins"),
        ("/swap 0 BTC DOGE", "greater than zero"),
        ("/swap -0.001 BTC DOGE", "must be positive"),
        ("/swap 0.000000001 BTC DOGE", "at most 8 decimal places"),
        ("/swap 0.0000001 USDT DOGE", "at most 6 decimal places"),
        ("/swap 0.002 BTC DOGE", "Not enough BTC"),
        ("/swap 1 RP BTC", "cannot be swapped"),
        ("/swap 0.001 BTC DUST", "paused"),  # swap.rate.DUST not set: no price
        ("/swap 0.00000001 BTC DOGE", "smallest amount of BTC"),
        ("/swap all LTC DOGE", "no LTC to swap"),
        ("/swap 1e-3 BTC DOGE", "exponent"),
        ("/swap 0.001 BTC", "Usage: /swap"),
    ],
)
async def test_bad_input_gets_a_clear_answer_and_moves_nothing(tg, db, command, answer):
    alice = await ready(tg, db)
    before = await books(db)
    out = texts(await alice.send(command))
    assert answer in out, out
    assert await books(db) == before


async def test_a_pair_without_a_fresh_price_pauses(tg, db):
    alice = await ready(tg, db)
    # BTC's and DOGE's prices were read an hour ago: stale
    await db.write(
        lambda c: c.execute(
            update(exchange_prices)
            .where(exchange_prices.c.asset != "LTC")
            .values(fetched_at=utcnow() - timedelta(hours=1))
        )
    )
    out = texts(await alice.send("/swap 0.001 BTC DOGE"))
    assert "Swaps with BTC are paused" in out


async def test_expired_quote_comes_back_fresh(tg, db):
    alice = await ready(tg, db)
    await alice.send("/swap 0.001 BTC USDT")
    quote = tg.last_with_buttons(ALICE)
    await db.write(
        lambda c: c.execute(update(swap_quotes).values(expires_at=utcnow() - timedelta(seconds=1)))
    )
    out = texts(await alice.tap(quote.buttons()[0][1], quote))
    assert "expired or the rate moved" in out and "You receive" in out
    assert await available(db, user_account(ALICE), "BTC") == 100_000
    stale = texts(await alice.tap(quote.buttons()[0][1], quote))  # the old button again
    assert "replaced by a newer one" in stale
    await alice.tap_button("Confirm")  # the fresh one
    assert await available(db, user_account(ALICE), "BTC") == 0


async def test_forged_buttons(tg, db):
    alice = await ready(tg, db)
    mallory = await ready(tg, db, MALLORY)
    await alice.send("/swap 0.001 BTC USDT")
    quote = tg.last_with_buttons(ALICE)
    qid = quote.buttons()[0][1].split(":")[-1]
    before = await books(db)
    assert "does not exist" in texts(await mallory.tap(f"sq:ok:{qid}"))  # Alice's quote
    assert "does not exist" in texts(await mallory.tap("sq:ok:424242"))
    assert "does not exist" in texts(await mallory.tap(f"sq:no:{qid}"))  # nor cancel it
    assert "no longer valid" in texts(await mallory.tap("sq:ok:99999999999999999999"))
    assert "no longer valid" in texts(await mallory.tap("sq:ok:abc"))
    assert "Unknown coin" in texts(await mallory.tap("sw:from:XMR::"))
    assert "cannot be swapped" in texts(await mallory.tap("sw:to:BTC:RP:"))
    assert "Unknown coin" in texts(await mallory.tap("sw:amount:BTC:ZZZ:all"))
    assert "Unknown coin" in texts(await mallory.tap("swp:ZZZ"))
    assert await books(db) == before
    cancelled = texts(await alice.tap(quote.buttons()[1][1], quote))
    assert "Cancelled" in cancelled
    assert "cancelled" in texts(await alice.tap(quote.buttons()[0][1], quote))
    assert await books(db) == before


async def test_sweep_from_the_balance_button(tg, db):
    alice = await ready(tg, db)
    await fund(db, user_account(ALICE), 5_000_000, "USDT", key="a:usdt")
    await fund(db, user_account(ALICE), 1, "TRX", key="a:trx")  # below the minimum: skipped
    await alice.send("/balance")
    await alice.tap_button("Sweep")
    out = texts(await alice.tap_button("DOGE"))
    assert "Sweep into DOGE" in out
    assert "0.00100000 BTC → 594.00000000 DOGE at 1 BTC = 600000 DOGE" in out
    assert "5.000000 USDT → 49.50000000 DOGE" in out
    assert "0.000001 TRX: skipped, below the swap minimum" in out
    assert "You receive in total: <b>643.50000000 DOGE</b>" in out
    done = texts(await alice.tap_button("Confirm"))
    assert "2 coins swept into 643.50000000 DOGE" in done
    held = await db.read(ledger.balances, user_account(ALICE))
    assert {a: b.available for a, b in held.items() if b.available} == {"DOGE": 64_350_000_000, "TRX": 1}


async def test_sweep_bad_input(tg, db):
    alice = await ready(tg, db)
    assert "Unknown coin" in texts(await alice.send("/sweep XMR"))
    assert "cannot be swapped" in texts(await alice.send("/sweep RP"))
    assert "Usage: /sweep" in texts(await alice.send("/sweep DOGE BTC"))
    assert "Nothing to sweep into BTC" in texts(await alice.send("/sweep BTC"))
    assert "which coin" in texts(await alice.send("/sweep"))


async def test_menu_button_help_and_command_list(tg, db):
    alice = await ready(tg, db)
    await alice.send("/start")
    out = texts(await alice.tap_button("Swap"))
    assert "Which coin do you want to swap?" in out
    assert ("BTC", "sw:from:BTC::") in tg.last_with_buttons(ALICE).buttons()
    help_text = texts(await alice.send("/help"))
    assert "/swap" in help_text and "/sweep" in help_text


async def test_in_a_group_swap_shows_nothing(tg, db):
    from datetime import UTC, datetime

    from aiogram.types import Chat, Message, MessageEntity, Update

    await ready(tg, db)
    msg = Message(
        message_id=5,
        date=datetime.now(UTC),
        chat=Chat(id=-100123, type="supergroup", title="g"),
        from_user=tg.person(ALICE).user,
        text="/swap all BTC USDT",
        entities=[MessageEntity(type="bot_command", offset=0, length=5)],
    )
    sent = await tg.feed(Update(update_id=tg.next_update_id(), message=msg))
    assert "quote" not in texts(sent).lower()
    assert await available(db, user_account(ALICE), "BTC") == 100_000
