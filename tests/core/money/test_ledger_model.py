"""A hypothesis state machine: random transfers, reserves, posts, voids, reversals and
replays against the real ledger, checked step by step against a tiny in-memory model."""

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from core.errors import DomainError, InsufficientFunds, TransferRejected
from core.money import ledger
from core.platform.db import Database
from tests.conftest import PG_URL, _truncate_all

OWNERS = ["world", "treasury", "house", "user:1", "user:2", "user:3"]
ASSETS = ["BTC", "USDT"]


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, url: str):
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db = Database(url)
        if PG_URL:
            self.loop.run_until_complete(_truncate_all(self.db))
        self.loop.run_until_complete(self.db.start())
        self.balance = {(o, a): 0 for o in OWNERS for a in ASSETS}
        self.held = {(o, a): 0 for o in OWNERS for a in ASSETS}
        self.posted: dict[str, tuple] = {}  # key -> fields of transfers that succeeded
        self.pending: dict[int, tuple] = {}  # open pending id -> (debit, credit, asset, amount)
        self.resolved: set[int] = set()
        self.reversible: list[int] = []
        self.n = 0

    def run(self, fn, *args, **kw):
        return self.loop.run_until_complete(self.db.write(fn, *args, **kw))

    def teardown(self):
        problems = self.loop.run_until_complete(self.db.read(ledger.check_invariants))
        self.loop.run_until_complete(self.db.close())
        self.loop.close()
        assert problems == []

    def available(self, owner, asset):
        return self.balance[(owner, asset)] - self.held[(owner, asset)]

    @initialize()
    def seed(self):
        for a in ASSETS:
            self.run(
                ledger.transfer,
                debit="world",
                credit="treasury",
                asset=a,
                amount=1000,
                code="seed",
                key=f"seed:{a}",
            )
            self.balance[("world", a)] -= 1000
            self.balance[("treasury", a)] += 1000

    @rule(
        debit=st.sampled_from(OWNERS),
        credit=st.sampled_from(OWNERS),
        asset=st.sampled_from(ASSETS),
        amount=st.integers(1, 400),
    )
    def transfer(self, debit, credit, asset, amount):
        self.n += 1
        key = f"t:{self.n}"
        should_fail = debit == credit or (debit != "world" and self.available(debit, asset) < amount)
        try:
            t = self.run(
                ledger.transfer, debit=debit, credit=credit, asset=asset, amount=amount, code="t", key=key
            )
        except InsufficientFunds:
            assert should_fail
            return
        except TransferRejected:
            assert debit == credit
            return
        assert not should_fail
        self.balance[(debit, asset)] -= amount
        self.balance[(credit, asset)] += amount
        self.posted[key] = (debit, credit, asset, amount)
        self.reversible.append(t.id)

    @rule(data=st.data())
    def replay(self, data):
        if not self.posted:
            return
        key = data.draw(st.sampled_from(sorted(self.posted)))
        debit, credit, asset, amount = self.posted[key]
        t = self.run(
            ledger.transfer, debit=debit, credit=credit, asset=asset, amount=amount, code="t", key=key
        )
        assert t.replayed  # and the model does not change

    @rule(
        debit=st.sampled_from(OWNERS[1:]),
        credit=st.sampled_from(OWNERS),
        asset=st.sampled_from(ASSETS),
        amount=st.integers(1, 400),
    )
    def reserve(self, debit, credit, asset, amount):
        if debit == credit:
            return
        self.n += 1
        try:
            p = self.run(
                ledger.reserve,
                debit=debit,
                credit=credit,
                asset=asset,
                amount=amount,
                code="r",
                key=f"r:{self.n}",
            )
        except InsufficientFunds:
            assert self.available(debit, asset) < amount
            return
        assert self.available(debit, asset) >= amount
        self.held[(debit, asset)] += amount
        self.pending[p.id] = (debit, credit, asset, amount)

    @rule(data=st.data(), post=st.booleans())
    def resolve(self, data, post):
        choices = sorted(self.pending) + sorted(self.resolved)
        if not choices:
            return
        pid = data.draw(st.sampled_from(choices))
        fn = ledger.post_pending if post else ledger.void_pending
        self.n += 1
        try:
            self.run(fn, pid, key=f"x:{self.n}")
        except TransferRejected:
            assert pid in self.resolved
            return
        assert pid in self.pending
        debit, credit, asset, amount = self.pending.pop(pid)
        self.resolved.add(pid)
        self.held[(debit, asset)] -= amount
        if post:
            self.balance[(debit, asset)] -= amount
            self.balance[(credit, asset)] += amount

    @rule(data=st.data())
    def reverse(self, data):
        if not self.reversible:
            return
        tid = data.draw(st.sampled_from(self.reversible))
        self.n += 1
        original = self.loop.run_until_complete(self.db.read(ledger.get_transfer, id=tid))
        try:
            self.run(ledger.reverse, tid, key=f"fix:{self.n}")
        except DomainError:
            assert (
                original.credit != "world"
                and self.available(original.credit, original.asset) < original.amount
            )
            return
        self.balance[(original.credit, original.asset)] -= original.amount
        self.balance[(original.debit, original.asset)] += original.amount

    @invariant()
    def matches_model(self):
        for owner in OWNERS:
            got = self.loop.run_until_complete(self.db.read(ledger.balances, owner))
            for asset in ASSETS:
                b = got.get(asset)
                assert (b.balance if b else 0, b.held if b else 0) == (
                    self.balance[(owner, asset)],
                    self.held[(owner, asset)],
                )


def test_ledger_matches_model(migrated_template):
    tmp = Path(tempfile.mkdtemp())

    def make():
        if PG_URL:
            return LedgerMachine(PG_URL)
        path = tmp / f"m{len(list(tmp.iterdir()))}.db"
        shutil.copyfile(migrated_template, path)
        return LedgerMachine(f"sqlite+aiosqlite:///{path}")

    run_state_machine_as_test(
        make,
        settings=settings(
            max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
    shutil.rmtree(tmp, ignore_errors=True)


pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
