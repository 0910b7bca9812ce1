"""/proof, /reserves and withdrawals followed on chain, through the real dispatcher."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.money.accounts import user_account
from core.platform import audit
from core.platform.params import Params
from core.trust import proof, reserves
from core.trust.tables import reserve_wallets
from handlers.common import notices as notice_texts
from handlers.common.i18n import get_i18n
from jobs.payout_backends import RpcBackend
from jobs.payouts import Payouts
from jobs.proof import publish
from jobs.trust import Trust
from tests.handlers.cashout.test_cashout import enable_2fa
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts
from tests.money import fund
from tools.verify_proof import verify

ALICE, BOB = 111, 222
SECRET = "p" * 40
COLD = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
BTC_ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def documents(tg, chat_id):
    out = []
    for s in tg.session.sent:
        if s.method == "sendDocument" and s.chat_id == chat_id:
            [upload] = s.params["_files"].values()
            out.append((upload.filename, json.loads(upload.data), s.text))
    return out


async def test_proof_before_any_is_published_says_when_it_comes(tg, db):
    alice = tg.person(ALICE)
    await alice.send("/start")
    assert "00:10 UTC" in texts(await alice.send("/proof"))


async def test_proof_gives_each_coin_held_as_a_json_file_that_verifies(tg, db):
    alice, bob = tg.person(ALICE), tg.person(BOB)
    await alice.send("/start")
    await bob.send("/start")
    await fund(db, user_account(ALICE), 12_345, "BTC", key="a1")
    await fund(db, user_account(ALICE), 700, "DOGE", key="a2")
    await fund(db, user_account(BOB), 50_000, "BTC", key="b1")
    roots = {r.asset: r for r in await publish(db, tg.dp["settings"].secret_key)}
    out = texts(await alice.send("/proof"))
    assert "Proof of liabilities" in out
    docs = documents(tg, ALICE)
    assert sorted(name.split("-")[1] for name, _, _ in docs) == ["BTC", "DOGE"]
    for name, doc, caption in docs:
        root = roots[doc["asset"]]
        assert verify(doc, root.root_hash, root.total).startswith("OK")
        assert f"--root {root.root_hash} --total {root.total}" in caption and name in caption
        assert doc["leaf"]["user_id"] == ALICE
    btc = next(doc for _, doc, _ in docs if doc["asset"] == "BTC")
    assert btc["leaf"]["balance"] == 12_345 and btc["total"] == 62_345
    # Bob's leaf is in the path only as a hash and a sum: never his id or salt.
    bob_doc = await db.read(proof.proof_document, tg.dp["settings"].secret_key, BOB, "BTC")
    assert bob_doc["leaf"]["salt"] not in json.dumps(btc) and str(BOB) not in json.dumps(btc["path"])
    carol = tg.person(333)
    await carol.send("/start")
    assert "count no balance of yours" in texts(await carol.send("/proof"))


async def test_reserves_shows_liabilities_against_hot_and_cold_wallets(tg, db):
    admin, alice = tg.person(ADMIN), tg.person(ALICE)
    await admin.send("/start")
    await alice.send("/start")
    assert "Nothing published yet" in texts(await alice.send("/reserves"))
    await fund(db, user_account(ALICE), 200_000_000, "BTC", key="a")
    await publish(db, SECRET)
    await db.write(reserves.record_hot, "BTC", "rpc", 50_000_000, datetime.now(UTC))
    assert "Declared cold wallet" in texts(await admin.send(f"/reserves add BTC {COLD} 1 vault"))
    assert "now holds 2.00000000 BTC" in texts(await admin.send(f"/reserves set BTC {COLD} 2"))
    out = texts(await alice.send("/reserves"))
    assert "Owed to users: 2.00000000 BTC" in out
    assert "Hot wallet: 0.50000000 BTC" in out and "Cold storage: 2.00000000 BTC" in out
    assert "Reserves / liabilities: 125.00%" in out
    assert [a.action for a in await db.read(audit.recent, 10)][:2] == ["reserve_set", "reserve_add"]


@pytest.mark.parametrize(
    "command, answer",
    [
        (f"/reserves add XYZ {COLD} 1", "Unknown coin"),
        (f"/reserves add BTC {COLD} -1", "must be positive"),
        (f"/reserves add BTC {COLD} abc", ""),
        (f"/reserves add BTC {COLD} 0.000000001", "at most 8 decimal"),
        ("/reserves add BTC not-an-address 1", ""),
        ("/reserves add BTC tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx 1", ""),
        (f"/reserves set BTC {COLD} 1", "not declared"),
        (f"/reserves add BTC {COLD} 1 " + "x" * 70, "too long"),
        ("/reserves add BTC", "Usage"),
        (f"/reserves set BTC {COLD}", "Usage"),
    ],
)
async def test_bad_reserve_entries_are_refused_and_change_nothing(tg, db, command, answer):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    out = texts(await admin.send(command))
    assert answer in out and "Declared" not in out and "now holds" not in out
    assert (
        await db.read(lambda c: c.execute(select(func.count()).select_from(reserve_wallets)).scalar_one())
        == 0
    )
    assert [a.action for a in await db.read(audit.recent, 10) if a.action.startswith("reserve")] == []


async def test_a_declared_address_cannot_be_declared_twice(tg, db):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    await admin.send(f"/reserves add BTC {COLD} 1")
    assert "already declared" in texts(await admin.send(f"/reserves add BTC {COLD} 5"))
    [w] = await db.read(reserves.wallets)
    assert w.balance == 100_000_000


async def test_a_user_typing_reserves_add_only_sees_the_reserves(tg, db):
    alice = tg.person(ALICE)
    await alice.send("/start")
    out = texts(await alice.send(f"/reserves add BTC {COLD} 1000"))
    assert "Reserves" in out and "Declared" not in out
    assert await db.read(reserves.wallets) == []


async def test_reserves_entries_need_the_admins_code_with_2fa_on(tg, db):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    totp = await enable_2fa(db, ADMIN)
    assert "6-digit code" in texts(await admin.send(f"/reserves add BTC {COLD} 1"))
    assert await db.read(reserves.wallets) == []
    assert "Reserves" in texts(await admin.send("/reserves"))  # showing needs no code
    out = texts(await admin.send(f"/reserves add BTC {COLD} 1 code {totp.now()}"))
    assert "Declared cold wallet" in out




async def test_withdrawals_show_confirmations_and_an_explorer_link(tg, db, node):
    alice = tg.person(ALICE)
    await alice.send("/start")
    await fund(db, user_account(ALICE), 3_000_000, key="alice")
    await alice.send(f"/withdraw 0.001 BTC {BTC_ADDR}")
    await alice.tap_button("Confirm")
    env = {"PAYOUT_BACKEND_BTC": "rpc"}
    backend = RpcBackend(node.url)
    await Payouts(db, Params(env=env), lambda name, asset: backend).run_once()
    [tx] = node.paid
    trust = Trust(db, Params(env=env), lambda name, asset: backend, secret_key=SECRET)
    node.mine(tx["txid"], 1)
    await trust.follow_payouts()
    out = texts(await alice.send("/withdrawals"))
    assert "1 of 3 confirmations" in out and f"https://mempool.space/tx/{tx['txid']}" in out
    node.mine(tx["txid"], 3)
    await trust.follow_payouts()
    assert "final (3 confirmations)" in texts(await alice.send("/withdrawals"))


FIRST_CONFIRMATION = {"id": 4, "state": "confirmed", "amount": 99_000, "asset": "BTC", "confirmations": 1, "needed": 3}


def test_the_chain_notices_say_what_a_confirmation_is():
    i18n = get_i18n()
    with i18n.context(), i18n.use_locale("en"):
        first = notice_texts.render("withdrawal_chain", FIRST_CONFIRMATION)
        final = notice_texts.render(
            "withdrawal_chain",
            {"id": 4, "state": "final", "amount": 99_000, "asset": "BTC", "confirmations": 3},
        )
        refill = notice_texts.render(
            "withdrawal_refill", {"id": 4, "state": "refilling", "amount": 99_000, "asset": "BTC"}
        )
    assert "first confirmation (1 of 3)" in first and "A confirmation is a block" in first
    assert "final, with 3 confirmations" in final
    assert "queued: the hot wallet is being refilled" in refill
    with i18n.context(), i18n.use_locale("ru"):
        ru = notice_texts.render("withdrawal_chain", FIRST_CONFIRMATION)
    assert "первое подтверждение (1 из 3)" in ru


async def test_the_days_roots_are_posted_to_the_ops_channel_when_one_is_set(tg, db):
    from handlers.trust.proof import announce_roots

    await fund(db, user_account(ALICE), 5_000, "BTC", key="a")
    roots = await publish(db, SECRET)
    params = tg.dp["params"]
    await announce_roots(tg.bot, params, roots)
    assert not [s for s in tg.session.sent if s.method == "sendMessage"]  # no channel set: nothing posted
    admin = tg.person(ADMIN)
    await admin.send("/start")
    await admin.send("/set ops.channel -1001234567890")
    await announce_roots(tg.bot, params, roots)
    [post] = [s for s in tg.session.sent if s.method == "sendMessage" and s.chat_id == -1001234567890]
    assert roots[0].root_hash in post.text and "Proof of liabilities published" in post.text
