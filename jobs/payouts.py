"""The payout job: reconcile batches in doubt, form new batches, send them.

Runs under the ``payouts`` lease (jobs.exclusive), so one instance at a time. Every step
is recorded before the next outside call (see core.cashout.payouts), so a restart at any point
resumes from the database: ``open`` batches are sent, ``sending``/``unknown`` ones are
only looked up, never sent again, every ``payout.reconcile_after`` until the payment is
found (a lookup never fails them; admins are told once and settle them with evidence).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from core.cashout import payouts
from core.money.assets import ASSET_CODES
from core.platform.db import Database
from core.platform.params import Params
from core.platform.schema import utcnow
from core.trust import reserves

log = logging.getLogger(__name__)


class Payouts:
    def __init__(self, db: Database, params: Params, backends, admin_ids=frozenset()) -> None:
        """``backends``: a function (backend name, asset) -> backend object or None.
        ``admin_ids`` are told (once per batch) about a batch still unknown after a lookup."""
        self.db, self.params, self.backends = db, params, backends
        self.admin_ids = frozenset(admin_ids)

    def _backend(self, name: str, asset: str):
        return self.backends(name, asset)

    async def _alert(self, batch_id: int) -> bool:
        """Tell the admins (once per batch) about a batch still unknown; True when they were told now."""
        told: bool = await self.db.write(payouts.alert_in_doubt, batch_id, self.admin_ids)
        return told

    async def _hot_wallet_covers(self, asset: str, name: str) -> bool:
        """Read the hot wallet before batching: while approved withdrawals of ``asset`` need more
        than it holds, they wait (core.trust.reserves.gate tells the users and the admins).
        A backend that cannot tell its balance (manual), or cannot be reached now, is not held back:
        sending then fails or stays unknown, as before."""
        backend = self._backend(name, asset) if name else None
        if backend is None or not hasattr(backend, "balance"):
            return True
        try:
            hot = await backend.balance(asset)
        except Exception as e:
            log.warning("payouts: could not read the %s hot wallet (%s)", asset, type(e).__name__)
            return True
        covered: bool = await self.db.write(reserves.gate, asset, name, hot, utcnow(), self.admin_ids)
        return covered

    async def run_once(self) -> dict[str, int]:
        await self.params.refresh(self.db)
        totals: dict[str, int] = {}

        def add(counts):
            for k, v in counts.items():
                totals[k] = totals.get(k, 0) + v

        settled_before = utcnow() - timedelta(seconds=self.params.get("payout.reconcile_after"))
        for batch in await self.db.read(payouts.batches_in, ("sending", "unknown")):
            backend = self._backend(batch.backend, batch.asset)
            assert batch.updated_at is not None  # a stored batch's column is NOT NULL
            if backend is None or not batch.items or batch.updated_at > settled_before:
                continue
            add(await self.db.write(payouts.settle, batch.id, await backend.lookup(batch)))
            if self.admin_ids and await self._alert(batch.id):
                log.warning("payouts: batch %s (%s) still unknown after a lookup", batch.id, batch.asset)
        backend_of = {a: str(self.params.get(f"payout.backend.{a}")) for a in ASSET_CODES}
        for asset in await self.db.read(reserves.assets_waiting):
            if not await self._hot_wallet_covers(asset, backend_of.get(asset, "")):
                backend_of[asset] = ""  # no batch of this coin until the hot wallet is refilled
        await self.db.write(payouts.form_batches, backend_of, self.params.get("payout.batch_size"))
        for open_batch in await self.db.read(payouts.batches_in, ("open",)):
            backend = self._backend(open_batch.backend, open_batch.asset)
            if backend is None:
                log.warning("payouts: no %s backend configured for %s", open_batch.backend, open_batch.asset)
                continue
            sending = await self.db.write(payouts.start_sending, open_batch.id)
            if sending is None:
                continue
            add(await self.db.write(payouts.settle, sending.id, await backend.send(sending)))
        return totals
