"""Crash through the real dispatcher: the admins' chain commands (commitment to a Bitcoin block,
the salt), joining, cashing out and the refusals."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from core.money.accounts import user_account
from core.platform.schema import utcnow
from core.play import crash, crash_chain
from core.play.tables import crash_chains
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts
from tests.play import balance, load_chain, setup_money

A = 111


def answers(sent):
    return " ".join(s.params.get("text") or "" for s in sent if s.method == "answerCallbackQuery")


async def test_crash_admin_join_cash_out_and_refusals(tg, db, btc_node):
    await setup_money(db, {A: 10**8})
    admin = tg.person(ADMIN)
    alice = tg.person(A)
    assert "don't know that command" in texts(await alice.send("/crashnew"))
    assert "Terminating hash" in texts(await admin.send("/crashnew"))
    assert "64 hexadecimal" in texts(await admin.send("/crashsalt nothex"))
    block = btc_node.mine(btc_node.tip + 6)
    assert "Rounds start now" in texts(await admin.send("/crashsalt " + block))
    # issue 12: between rounds a /crash waits for the next round (tests/handlers/polish/test_crash.py)
    assert "in the queue for the next round" in texts(await alice.send("/crash 0.0001 DOGE"))
    from core.play.crash import ChainCache
    from tests.core.play.test_crash import KEY  # noqa: F401  (the fixture's SECRET_KEY is "k" * 40)

    chains, now = ChainCache("k" * 40), utcnow()
    await load_chain(db, chains)
    rnd = await db.write(crash.open_round, chains, betting_seconds=30, now=now)
    while rnd.crash_point < 130:
        await db.write(crash.start_round, rnd.id, now=now)
        await db.write(crash.crash_round, rnd.id, "00" * 32, now=now)
        rnd = await db.write(crash.open_round, chains, betting_seconds=30, now=now)
    assert "allowed range (1.01x to 1,000,000x)" in texts(await alice.send("/crash 0.0001 DOGE auto 1"))
    joined = await alice.send("/crash 0.0001 DOGE")
    assert "Crash round" in texts(joined)
    assert "already in this round" in texts(await alice.send("/crash 0.0001 DOGE"))
    assert "Client seed: <code>abc</code>" in texts(await alice.send("/clientseed abc"))  # crash: own chain
    bet_button = joined[-1].buttons()[0][1]
    assert "not started" in answers(await alice.tap(bet_button))
    started = utcnow() - timedelta(milliseconds=crash_chain.time_to_reach(115))
    await db.write(crash.start_round, rnd.id, now=started)
    out = answers(await alice.tap(bet_button))
    assert "Cashed out at 1.1" in out
    assert "already cashed out" in answers(await alice.tap(bet_button))
    assert await balance(db, user_account(A)) > 10**8


async def test_crashnew_commits_to_a_future_block_and_says_how_to_check(tg, db):
    """Without a Bitcoin node the admin gives the newest height; the chain commits to the block
    crash.salt_blocks (6) above it, and /crashsalt takes only that block's hash, only once it
    can have been mined."""
    admin = tg.person(ADMIN)
    asked = texts(await admin.send("/crashnew"))
    assert "/crashnew HEIGHT" in asked and await db.read(crash.latest_chain) is None
    assert "newest Bitcoin block" in texts(await admin.send("/crashnew 12x"))
    posted = await admin.send("/crashnew 925000")
    text = texts(posted)
    chain = await db.read(crash.latest_chain)
    assert chain.salt_height == 925_006
    assert f"Terminating hash: <code>{chain.commitment}</code>" in text
    assert "Bitcoin block #925006" in text and "not mined yet" in text
    assert "https://mempool.space/api/block-height/925006" in text  # where anyone finds the hash
    assert "SHA-256" in text and "HMAC-SHA256" in text  # how each round is checked
    for bad in ("nothex", "ab" * 31, "zz" * 32, "ab" * 64, "0x" + "ab" * 32):
        refused = texts(await admin.send(f"/crashsalt {bad}"))
        assert "hash of Bitcoin block #925006: 64 hexadecimal characters" in refused, bad
    block = "00000000000000000000" + "cd" * 22
    early = texts(await admin.send(f"/crashsalt {block}"))
    assert "cannot have been mined yet" in early and "#925006" in early
    assert (await db.read(crash.latest_chain)).salt is None

    def six_blocks_later(conn):  # as if the commitment had been posted an hour ago
        conn.execute(update(crash_chains).values(salt_after=utcnow() - timedelta(minutes=54)))

    await db.write(six_blocks_later)
    done = texts(await admin.send(f"/crashsalt {block.upper()}"))
    assert "Rounds start now" in done and f"<code>{block}</code>" in done and "#925006" in done
    assert re.search(r"already set", texts(await admin.send(f"/crashsalt {block}")))


async def test_with_a_bitcoin_node_the_bot_reads_the_height_and_checks_the_hash(tg, db, btc_node):
    admin = tg.person(ADMIN)
    btc_node.tip = 930_000
    text = texts(await admin.send("/crashnew"))
    assert "Bitcoin block #930006" in text and "newest block is #930000" in text
    block = btc_node.hash_of(930_006)
    assert "not mined yet: the Bitcoin node is at #930000" in texts(await admin.send(f"/crashsalt {block}"))
    btc_node.mine(930_007)
    wrong = btc_node.hash_of(930_005)
    refused = texts(await admin.send(f"/crashsalt {wrong}"))
    assert "not the hash of block #930006" in refused and block in refused
    btc_node.down = True
    assert "Bitcoin node did not answer" in texts(await admin.send(f"/crashsalt {block}"))
    btc_node.down = False
    assert "Rounds start now" in texts(await admin.send(f"/crashsalt {block}"))  # at once: the node saw it
    assert (await db.read(crash.latest_chain)).salt == block
