"""Proof of liabilities: every user's proof verifies against the published root, any change fails,
and the root's total is what the ledger owes users."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.money import treasury
from core.money.accounts import user_account
from core.trust import merkle, proof
from jobs.proof import publish
from tests.conftest import repo_root
from tests.money import fund
from tools.verify_proof import Refused, verify

SECRET = "k" * 40
DAY = datetime(2026, 12, 6, 0, 10, tzinfo=UTC)


def _doc(tree, index, asset="BTC"):
    user, bal, salt = tree.users[index], tree.levels[0][1][index], tree.salts[32 * index : 32 * index + 32]
    levels = tree.levels
    steps = merkle.path(levels, index)
    return {
        "format": proof.FORMAT,
        "asset": asset,
        "day": "2026-12-06",
        "root": levels[-1][0].hex(),
        "total": levels[-1][1][0],
        "leaf": {"user_id": user, "balance": bal, "salt": salt.hex()},
        "path": [{"side": s.side, "hash": s.hash.hex(), "sum": s.sum} for s in steps],
    }


balances = st.lists(st.integers(min_value=1, max_value=10**15), min_size=1, max_size=70)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(balances, st.data())
def test_every_proof_verifies_and_any_change_fails(bals, data):
    owed = [(1000 + i, b) for i, b in enumerate(bals)]
    tree = proof.build_tree(SECRET, "BTC", "2026-12-06", DAY, owed)
    assert tree is not None and tree.total == sum(bals)
    for i in range(tree.size):
        assert verify(_doc(tree, i), tree.root_hash, sum(bals)).startswith("OK")
    i = data.draw(st.integers(0, tree.size - 1))
    doc = _doc(tree, i)
    changes = [("leaf", "balance", doc["leaf"]["balance"] + 1), ("leaf", "salt", "00" * 32)]
    if doc["path"]:
        k = data.draw(st.integers(0, len(doc["path"]) - 1))
        changes += [
            ("path", (k, "sum"), doc["path"][k]["sum"] + 1),
            ("path", (k, "hash"), "ff" * 32),
            ("path", (k, "side"), "left" if doc["path"][k]["side"] == "right" else "right"),
        ]
    for where, key, value in changes:
        bad = json.loads(json.dumps(doc))
        if where == "leaf":
            bad["leaf"][key] = value
        else:
            bad["path"][key[0]][key[1]] = value
        with pytest.raises(Refused):
            verify(bad, tree.root_hash, sum(bals))


def test_the_verifier_refuses_each_bad_document_with_its_reason():
    owed = [(7, 500), (8, 300), (9, 200), (10, 1)]
    tree = proof.build_tree(SECRET, "BTC", "2026-12-06", DAY, owed)
    assert tree is not None
    doc = _doc(tree, 0)
    root, total = tree.root_hash, tree.total

    def refused(change, *args) -> str:
        bad = json.loads(json.dumps(doc))
        change(bad)
        with pytest.raises(Refused) as e:
            verify(bad, *(args or (root, total)))
        return str(e.value)

    assert "negative" in refused(lambda d: d["path"][0].update(sum=-5))
    assert "negative" in refused(lambda d: d["leaf"].update(balance=-1))
    assert "root" in refused(lambda d: d["leaf"].update(balance=d["leaf"]["balance"] + 1))
    assert "root" in refused(lambda d: d["leaf"].update(salt="ab" * 32))
    assert "root" in refused(lambda d: d["path"].reverse())  # reordered
    assert "root" in refused(lambda d: d["path"].pop())  # truncated path
    assert "not 64 hex" in refused(lambda d: d["leaf"].update(salt="zz"))
    assert "published root" in refused(lambda d: None, "00" * 32, total)  # another root
    assert "published total" in refused(lambda d: None, root, total + 1)
    assert "side" in refused(lambda d: d["path"][0].update(side="up"))
    assert "format" in refused(lambda d: d.update(format="other/9"))


def test_the_verifier_script_runs_with_the_standard_library_only(tmp_path):
    tree = proof.build_tree(SECRET, "DOGE", "2026-12-06", DAY, [(1, 5), (2, 6), (3, 7)])
    assert tree is not None
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(_doc(tree, 2, "DOGE")))
    script = str(repo_root() / "tools" / "verify_proof.py")
    ok = subprocess.run(
        [sys.executable, "-I", script, str(path), "--root", tree.root_hash, "--total", "18"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("OK:"), ok.stdout + ok.stderr
    wrong = subprocess.run(
        [sys.executable, "-I", script, str(path), "--root", "00" * 32], capture_output=True, text=True
    )
    assert wrong.returncode == 1 and "published root" in wrong.stdout
    path.write_text(path.read_text()[:-20])
    cut = subprocess.run([sys.executable, "-I", script, str(path)], capture_output=True, text=True)
    assert cut.returncode == 1 and "not valid JSON" in cut.stdout


async def _users_holding(db, amounts: dict[int, int], asset="BTC") -> None:
    for user, amount in amounts.items():
        await fund(db, user_account(user), amount, asset, key=f"{asset}:{user}")


async def test_the_published_root_is_what_the_ledger_owes_and_each_user_gets_a_proof(db, monkeypatch):
    monkeypatch.setattr(proof, "CHUNK_LEVEL", 2)  # chunks of 4, so stored nodes are used too
    monkeypatch.setattr(proof, "WRITE_ROWS", 2)
    amounts = {100 + i: 1000 * (i + 1) for i in range(23)}
    await _users_holding(db, amounts)
    await _users_holding(db, {5000: 42}, "DOGE")
    roots = await publish(db, SECRET, now=lambda: DAY, assets=["BTC", "DOGE", "LTC"])
    assert [r.asset for r in roots] == ["BTC", "DOGE"]  # nobody holds LTC
    stats = await db.read(treasury.stats)
    by_asset = {r.asset: r for r in roots}
    assert by_asset["BTC"].total == stats.liabilities["BTC"] == sum(amounts.values())
    for user, amount in amounts.items():
        doc = await db.read(proof.proof_document, SECRET, user, "BTC")
        assert doc is not None and doc["leaf"]["balance"] == amount
        assert verify(doc, by_asset["BTC"].root_hash, by_asset["BTC"].total).startswith("OK")
    assert await db.read(proof.proof_document, SECRET, 999, "BTC") is None
    assert await db.read(proof.proof_document, SECRET, 100, "DOGE") is None


async def test_a_day_is_published_once_and_a_run_killed_half_way_is_built_again(db, monkeypatch):
    monkeypatch.setattr(proof, "CHUNK_LEVEL", 1)
    monkeypatch.setattr(proof, "WRITE_ROWS", 1)
    await _users_holding(db, {1: 10, 2: 20, 3: 30, 4: 40, 5: 50})
    calls = 0
    real = proof.write_chunks

    def dies_on_the_second_batch(conn, root_id, tree, chunks):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("killed")
        return real(conn, root_id, tree, chunks)

    monkeypatch.setattr(proof, "write_chunks", dies_on_the_second_batch)
    with pytest.raises(RuntimeError):
        await publish(db, SECRET, now=lambda: DAY, assets=["BTC"])
    assert await db.read(proof.latest_root, "BTC") is None  # nothing half-built is served
    monkeypatch.setattr(proof, "write_chunks", real)
    [root] = await publish(db, SECRET, now=lambda: DAY, assets=["BTC"])
    assert root.total == 150 and root.leaves == 5
    assert await publish(db, SECRET, now=lambda: DAY, assets=["BTC"]) == []  # same day: left as it is
    doc = await db.read(proof.proof_document, SECRET, 3, "BTC")
    assert verify(doc, root.root_hash, 150).startswith("OK")


def test_salts_are_per_user_per_day_and_hide_the_order():
    a = proof.build_tree(SECRET, "BTC", "2026-12-06", DAY, [(i, 1) for i in range(1, 40)])
    b = proof.build_tree(SECRET, "BTC", "2026-12-07", DAY, [(i, 1) for i in range(1, 40)])
    assert a is not None and b is not None
    order_a = list(a.users)
    assert order_a != sorted(order_a) and order_a != list(b.users)
    salts = lambda t: {t.salts[i : i + 32] for i in range(0, len(t.salts), 32)}  # noqa: E731
    assert salts(a).isdisjoint(salts(b)) and len(salts(a)) == 39
