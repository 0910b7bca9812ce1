"""Scale out: two bot processes in webhook mode behind one round-robin proxy, on one PostgreSQL
database and one Redis, against the fake Bot API.

Shows, as the README's "Scale out" promises: a conversation that waits for typed input (2FA
setup, the withdraw details, a 2FA code) goes on on whichever instance gets the next update (FSM
in Redis); the flood limit counts both instances' updates together; each job runs on one instance
at a time (one crash round series, each notice once); and a SIGKILL of the instance that holds the
payouts lease, mid-payment, hands the job to the other within the lease: the withdrawal is paid
once on the payout backend and its notice arrives once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import pyotp
import pytest
from sqlalchemy import text

from core.platform import leases
from core.platform.budget import budget_key
from tests.conftest import ENGINE, repo_root
from tests.e2e.conftest import ADMIN, free_port
from tests.fakes.bitcoin_node import FakeNode
from tests.fakes.bitcoin_node import serve as serve_node
from tests.fakes.payouts import FakeCryptoPay, serve
from tests.fakes.process import BotProcess
from tests.fakes.proxy import RoundRobin

pytestmark = pytest.mark.timeout(150)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
ALICE, BOB = 1001, 1002
LEASE = 6  # JOB_LEASE_SECONDS for the test: a dead instance's jobs move within 6 s, not 30
LIMIT, WINDOW = 15, 3600  # the flood limit: updates per user per window (an hour: one window per test)
SALT = "00000000000000000001a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"


@pytest.fixture
async def redis_db():
    """This test's Redis database, emptied: FSM states, flood counters and the send budget."""
    if ENGINE != "postgresql":
        pytest.skip("scale-out needs PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://...")
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        pytest.skip(f"scale-out needs Redis at {REDIS_URL} (set TEST_REDIS_URL, or start redis-server)")
    await client.flushdb()
    yield client
    await client.aclose()


async def say(user, line: str) -> str:
    await user.send(line)
    return (await user.wait_for("sendMessage", timeout=20)).params.get("text", "")


def crash_rounds(conn):
    return conn.execute(
        text("SELECT id, game, status, created_at, crashed_at FROM crash_rounds ORDER BY id")
    ).all()


async def test_two_instances_one_database_one_redis(fake_api, bot_env, db, redis_db, tmp_path):
    api = fake_api
    pay = FakeCryptoPay()
    pay_runner, pay_port = await serve(pay.app())
    node = FakeNode(tip=925_000)
    node_runner = await serve_node(node)
    ports = [free_port(), free_port()]
    procs: list[BotProcess] = []
    lb = await RoundRobin([f"http://127.0.0.1:{p}" for p in ports]).start()
    try:
        common = {
            **bot_env,
            **api.env(),
            "REDIS_URL": REDIS_URL,
            "WEBHOOK_URL": f"{lb.url}/tg/hook",
            "WEBHOOK_SECRET": "scale_out_secret",
            "JOB_LEASE_SECONDS": str(LEASE),
            "PAYOUT_EVERY": "1s",
            "PAYOUT_RECONCILE_AFTER": "1s",
            "PAYOUT_BACKEND_USDT": "cryptopay",
            "CRYPTOPAY_TOKEN": pay.token,
            "CRYPTOPAY_URL": f"http://127.0.0.1:{pay_port}/api",
            "THROTTLE_LIMIT": str(LIMIT),
            "THROTTLE_WINDOW": f"{WINDOW}s",
            "CRASH_BETTING_SECONDS": "1s",
            "CRASH_CHAIN_LENGTH": "50",
            "RPC_URL_BTC": node.url,
        }
        for n, port in enumerate(ports):
            folder = tmp_path / f"instance-{n}"
            folder.mkdir()
            env = {**common, "INSTANCE_ID": f"inst-{n}", "WEB_PORT": str(port)}
            procs.append(
                BotProcess(
                    env, cwd=folder, argv=(str(repo_root() / "bot.py"),), log_path=tmp_path / f"bot{n}.log"
                )
            )
        await asyncio.gather(
            *(
                p.start(ready=lambda p=p: p.wait_for_output("webhook mode", timeout=90), timeout=90)
                for p in procs
            )
        )
        assert api.webhook_url == f"{lb.url}/tg/hook"

        admin = api.user(ADMIN, "Root", username="root")
        alice = api.user(ALICE, "Alice", username="alice")
        bob = api.user(BOB, "Bob", username="bob")
        for who, line in [
            (admin, "/start"),
            (alice, "/start"),
            (bob, "/start"),
            (admin, "/deposit 100 USDT x"),
        ]:
            await say(who, line)
        assert "Credited" in await say(admin, "/credit @alice 20 USDT x")
        # ---- (c) crash rounds start now and go on through the rest: one series, on one instance at a time.
        created = await say(admin, "/crashnew")
        assert "Bitcoin block #925006" in created
        node.mine(925_006, SALT)
        assert "Rounds start now" in await say(admin, f"/crashsalt {SALT}")

        # ---- (a) conversations that wait for typed input continue on the other instance.
        await alice.send("/2fa")
        await alice.wait_for("sendMessage")
        tap = await alice.tap_button("Turn 2FA on")
        await alice.wait_for("sendPhoto")
        await api.wait_until(
            lambda: re.search(r"\b[A-Z2-7]{32}\b", " ".join(m.text for m in alice.messages())), timeout=10
        )
        secret = re.search(r"\b([A-Z2-7]{32})\b", " ".join(m.text for m in alice.messages())).group(1)
        code = await alice.send(pyotp.TOTP(secret).now())
        await alice.wait_for("sendMessage")
        turned_on = alice.last_message().text
        assert "is on" in turned_on
        backup = re.findall(r"^[a-z0-9]{5}-[a-z0-9]{5}$", turned_on, re.M)
        assert lb.handled_by(tap["update_id"]) != lb.handled_by(code["update_id"])

        await alice.send("/withdraw")
        await alice.wait_for("sendMessage")
        pick = await alice.tap_button("USDT")
        await alice.wait_for("sendMessage")
        assert "amount" in alice.last_message().text
        details = await alice.send("6")
        quote = (await alice.wait_for("sendMessage")).params["text"]
        assert "You will receive" in quote
        assert lb.handled_by(pick["update_id"]) != lb.handled_by(details["update_id"])

        # The payout will be made, then Crypto Pay will not answer: the job waits in the call,
        # holding the payouts lease, when its instance is killed (below).
        pay.hang_after_pay, pay.hang_seconds = 1, 2 * LEASE
        confirm = await alice.tap_button("Confirm")
        await alice.wait_for("sendMessage")
        assert "code" in alice.last_message().text
        answer = await alice.send(backup[0])
        assert "confirmed" in (await alice.wait_for("sendMessage")).params["text"]
        assert lb.handled_by(confirm["update_id"]) != lb.handled_by(answer["update_id"])

        # ---- (b) the flood limit counts both instances' updates: as with one instance.
        carol = api.user(1003, "Carol", username="carol")
        mark, started = api.mark(), time.time()
        burst = [await carol.send("/help") for _ in range(30)]
        await api.wait_until(
            lambda: all(lb.handled_by(u["update_id"]) is not None for u in burst), timeout=30
        )
        await asyncio.sleep(0.5)
        assert {lb.handled_by(u["update_id"]) for u in burst} == {0, 1}
        to_carol = [
            c.params.get("text", "")
            for c in api.find_calls("sendMessage", chat_id=carol.id)
            if c.index >= mark
        ]
        answered = len([t for t in to_carol if "Dustpan commands" in t])
        told = len([t for t in to_carol if "Too many taps" in t])
        if int(started // WINDOW) == int(time.time() // WINDOW):  # one flood window (they start on the hour)
            assert (answered, told) == (LIMIT, 1), to_carol
        else:  # the burst straddled two windows: each allows LIMIT
            assert answered <= 2 * LIMIT and 1 <= told <= 2, to_carol

        # Both instances' messages drew from one budget in Redis: one sequence counts every grant.
        granted = int(await redis_db.get(budget_key(api.token) + ":seq") or 0)
        sent = [
            c
            for c in api.calls
            if c.source == "http" and c.method.startswith(("send", "edit")) and c.method != "sendChatAction"
        ]
        assert granted >= len(sent) > len(to_carol), (granted, len(sent))

        # ---- (d) SIGKILL the instance in the middle of the payment: the other takes over.
        await api.wait_until(lambda: bool(pay.paid), timeout=20)  # paid; the answer hangs
        held = {lease.name: lease for lease in await db.read(leases.all_leases)}
        holder = held["payouts"].holder
        assert holder in ("inst-0", "inst-1"), held
        victim, survivor = (procs[0], procs[1]) if holder == "inst-0" else (procs[1], procs[0])
        killed_at = time.monotonic()
        assert await victim.kill() == -signal.SIGKILL
        await api.wait_for(  # the withdrawal's notice thread: a new message, or its earlier one edited
            ("sendMessage", "editMessageText"),
            chat_id=ALICE,
            predicate=lambda c: re.match(
                r"Withdrawal #\d+ of [0-9.]+ USDT: sent\.", c.params.get("text", "")
            ),
            timeout=LEASE + 15,
            since=0,
        )
        assert time.monotonic() - killed_at < LEASE + 10  # within the lease, plus a job interval
        assert len(pay.paid) == 1 and pay.paid[0]["amount"] == "5.000000"  # paid exactly once
        after = {lease.name: lease.holder for lease in await db.read(leases.all_leases)}
        survivor_id = "inst-1" if holder == "inst-0" else "inst-0"
        assert after["payouts"] == survivor_id

        # Every notice once: the credit, the withdrawal (a thread: one message, edited).
        await asyncio.sleep(1.5)
        sent_to_alice = [m.text for m in alice.messages() if m.from_bot]
        assert len([t for t in sent_to_alice if "credited you" in t]) == 1
        threads = [t for t in sent_to_alice if re.match(r"Withdrawal #\d+ of", t)]
        assert len(threads) == 1 and ": sent." in threads[0], sent_to_alice

        # One crash round series across both instances and the kill: games in order, no overlap.
        rounds = await db.read(crash_rounds)
        assert len(rounds) >= 1, "no crash round was played"
        for prev, nxt in zip(rounds, rounds[1:], strict=False):
            assert nxt.game == prev.game + 1
            assert prev.crashed_at is not None and nxt.created_at >= prev.crashed_at, (prev, nxt)
        assert sum(1 for r in rounds if r.crashed_at is None) <= 1  # at most the one running now
        for _ in range(100):  # the crash runner too: its lease is the survivor's once the victim's lapsed
            crash_holder = {lease.name: lease.holder for lease in await db.read(leases.all_leases)}.get(
                "crash"
            )
            if crash_holder == survivor_id:
                break
            await asyncio.sleep(0.1)
        assert crash_holder == survivor_id

        assert await survivor.stop() == 0
    finally:
        for p in procs:
            await p.aclose()
        await lb.stop()
        await node_runner.cleanup()
        await pay_runner.cleanup()
