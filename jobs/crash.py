"""The crash round runner: one asyncio task that opens, runs and settles rounds, forever.

Wire it in bot.py after the dispatcher (see docs/games.md)::

    runner = CrashRunner(db, bot, params, settings.secret_key, admin_ids=settings.admin_ids)
    runner.start()
    ...
    await runner.stop()

Only the instance holding the "crash" lease (core.platform.leases) runs rounds; others wait. Time comes
from an injected clock, so tests run rounds without waiting. A round whose settlement fails is
marked stuck (core.play.crash.mark_stuck: bets stay on hold, admins are told) and the next round
opens; before each round the runner tries again to settle the stuck ones. Views (the players' round
messages) are edited within a budget: at most one edit a second per chat and
``crash.edits_per_second`` in all, shared round-robin, so with many players each view updates
less often, while the game itself (cash-outs, the bust, settlement) never waits for an edit.
What the views say comes from ``views`` (CrashViews, rendered by handlers.play.crash_views and
handed over by bot.py: jobs never import handlers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiogram.exceptions import TelegramForbiddenError

import jobs
from core import ops
from core.platform import leases
from core.platform.budget import bulk_lane
from core.platform.db import Database
from core.platform.params import Params
from core.platform.schema import utcnow
from core.play import crash, crash_queue
from core.play.crash_chain import multiplier_at
from core.play.stakes import rules_for
from jobs import INSTANCE

log = logging.getLogger(__name__)
LEASE = "crash"


def lease_ttl() -> int:
    """Seconds of the crash lease: the jobs' (JOB_LEASE_SECONDS, 30 by default)."""
    return jobs.LEASE_SECONDS


class CrashViews(Protocol):
    """The words of a round, each in the bet's own locale (the channel post in English)."""

    def live(self, rnd: crash.Round, bet: crash.CrashBet, multiplier: int) -> tuple[str, Any]:
        """A running round's view: (text, reply markup or None)."""
        ...

    def countdown(self, rnd: crash.Round, bet: crash.CrashBet, now: datetime) -> tuple[str, Any]:
        """A joined player's view while bets are taken (the window counting down)."""
        ...

    def final(self, rnd: crash.Round, bet: crash.CrashBet, game_hash: str) -> str:
        """The last edit of a bet's view once the round is settled (or stuck)."""
        ...

    async def announce(self, bot: Any, params: Params, rnd: crash.Round, game_hash: str) -> None:
        """Post the round's result to the public channel(s), if any; never raises."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    async def sleep(self, seconds: float) -> None:  # float ok: seconds
        await asyncio.sleep(seconds)


class EditBudget:
    """Which chats may get an edit now: a token bucket of ``rate`` a second shared round-robin,
    and at least ``per_chat`` seconds between two edits of one chat (Telegram's limits)."""

    def __init__(self, rate: int, per_chat: float = 1.0) -> None:  # float ok: seconds
        self.rate, self.per_chat = rate, per_chat
        self.tokens = float(rate)  # float ok: a token bucket
        self.last_refill: float | None = None  # float ok
        self.last_edit: dict[int, float] = {}  # float ok
        self.cursor = 0
        self.sent: list[tuple[float, int]] = []  # float ok: (time, chat), for tests and the bench

    def pick(self, now: float, chats: list[int]) -> list[int]:  # float ok
        if self.last_refill is not None:
            self.tokens = min(float(self.rate), self.tokens + (now - self.last_refill) * self.rate)
        self.last_refill = now
        chosen: list[int] = []
        n = len(chats)
        for i in range(n):
            if self.tokens < 1:
                break
            chat = chats[(self.cursor + i) % n]
            if now - self.last_edit.get(chat, -1e9) >= self.per_chat:
                chosen.append(chat)
                self.last_edit[chat] = now
                self.tokens -= 1
                self.sent.append((now, chat))
        if n:
            self.cursor = (self.cursor + len(chosen)) % n if chosen else self.cursor
        return chosen


OnOpen = Callable[[crash.Round, list[crash_queue.Opened]], Awaitable[None]]


@dataclass(frozen=True)
class RoundReport:
    round: crash.Round
    bets: list[crash.CrashBet]
    settle_seconds: float  # float ok: wall time of the settlement write
    settled_late_by: timedelta  # settlement time minus the bust, on the injected clock
    stuck: bool = False  # the settlement failed: reported, retried before later rounds


class CrashRunner:
    def __init__(
        self,
        db: Database,
        bot,
        params: Params,
        secret_key: str,
        *,
        clock=None,
        tick: float = 0.2,  # float ok: seconds
        idle: float = 5.0,  # float ok: seconds between looks for a salted chain
        admin_ids=frozenset(),  # told (notice outbox) when a settlement fails
        views: CrashViews | None = None,  # by default jobs.TEXTS.crash
        on_open: OnOpen | None = None,  # tells queued players their round opened (bot.py injects it)
    ) -> None:
        self.db, self.bot, self.params = db, bot, params
        self.views = views or jobs.texts().crash
        self.admin_ids = frozenset(admin_ids)
        self.chains = crash.ChainCache(secret_key)
        self.clock = clock or SystemClock()
        self.tick, self.idle = tick, idle
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._opened = asyncio.Event()
        self._edits: set[asyncio.Task] = set()
        self.budget: EditBudget | None = None
        self.on_open = on_open

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="crash-runner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()
        try:
            await self.db.write(leases.release, LEASE, INSTANCE)
        except Exception:
            log.warning("could not release the crash lease", exc_info=True)

    async def flush(self) -> None:
        """Wait for the view edits in flight."""
        if self._edits:
            await asyncio.gather(*self._edits, return_exceptions=True)

    async def _lease(self) -> bool:
        return await self.db.write(leases.acquire, LEASE, INSTANCE, lease_ttl(), now=self.clock.now())

    async def poke(self, timeout: float = 2.0) -> None:  # float ok: seconds
        """Look for a playable chain now (an admin just set the salt) and wait, briefly, for
        the first round to open. On another instance's lease this just times out."""
        self._opened.clear()
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._opened.wait(), timeout)

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.idle)
        self._wake.clear()

    async def _run(self) -> None:
        while True:
            try:
                if not await self._lease() or await self.run_round() is None:
                    if isinstance(self.clock, SystemClock):
                        await self._idle()
                    else:
                        await self.clock.sleep(self.idle)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("crash round failed; retrying")
                await self.clock.sleep(1)

    async def _keep_lease(self, renewed: datetime) -> datetime | None:
        """Renew the lease once a third of its time has passed since ``renewed``: the time of the
        latest renewal, or None when another instance holds it now (we stalled past its end)."""
        now = self.clock.now()
        if (now - renewed).total_seconds() < lease_ttl() / 3:
            return renewed
        return now if await self._lease() else None

    async def _take_bets(self, rnd: crash.Round) -> bool:
        """Wait out the betting window (up to crash.betting_seconds, far past one lease) holding
        the lease, counting down in the players' views; False if the lease was lost."""
        renewed = self.clock.now()
        budget = EditBudget(self.params.get("crash.edits_per_second"))
        shown: float | None = None  # float ok: seconds left when the views were last edited
        while (left := (rnd.betting_ends_at - self.clock.now()).total_seconds()) > 0:
            if (renewed := await self._keep_lease(renewed)) is None:
                return False
            if shown is None or shown - left >= 1:
                shown = left
                await self._countdown(rnd, budget)
            await self.clock.sleep(min(left, self.tick))
        return True

    async def _countdown(self, rnd: crash.Round, budget: EditBudget) -> None:
        bets = {b.chat_id: b for b in await self.db.read(crash.round_bets, rnd.id) if b.message_id}
        now = self.clock.now()
        elapsed = (now - (rnd.betting_ends_at - timedelta(hours=1))).total_seconds()
        for chat in budget.pick(elapsed, list(bets)):
            bet = bets[chat]
            text, markup = self.views.countdown(rnd, bet, now)
            self._edit(bet, text, markup)

    async def _join_queued(self, rnd: crash.Round) -> None:
        """Make the joins queued while the last round ran bets of this one, then tell them."""
        opened = await self.db.write(
            crash_queue.join_queued, lambda asset: rules_for(self.params, asset), now=self.clock.now()
        )
        if opened and self.on_open is not None:
            try:
                await self.on_open(rnd, opened)
            except Exception:  # telling is a courtesy: the bets stand
                log.warning("could not tell queued crash players", exc_info=True)

    async def _load_chain(self, chain_id: int) -> None:
        """Build the chain in a worker thread (seconds for a long one), outside any transaction."""
        if not self.chains.loaded(chain_id):
            sealed = await self.db.read(crash.sealed_chain, chain_id)
            await asyncio.to_thread(self.chains.load, sealed)

    async def _open_round(self) -> crash.Round | None:
        betting = self.params.get("crash.betting_seconds")
        try:
            return await self.db.write(
                crash.open_round, self.chains, betting_seconds=betting, now=self.clock.now()
            )
        except crash.ChainNotLoaded as e:  # a new chain: build it, then open its first round
            await self._load_chain(e.chain_id)
            return await self.db.write(
                crash.open_round, self.chains, betting_seconds=betting, now=self.clock.now()
            )

    async def _settle_stuck(self) -> None:
        """Try again to settle rounds whose settlement failed (each one, each round)."""
        for rnd in await self.db.read(crash.stuck_rounds):
            try:
                await self.db.write(
                    crash.settle_stuck, rnd.id, admin_ids=self.admin_ids, now=self.clock.now()
                )
                log.warning("crash round %s (game %s) is settled now", rnd.id, rnd.game)
            except Exception:
                log.warning("crash round %s still cannot be settled", rnd.id, exc_info=True)

    async def _settle(self, rnd: crash.Round, game_hash: str) -> tuple[list[crash.CrashBet], bool]:
        """Settle the round; if that fails, mark it stuck and report it: (its bets, stuck)."""
        try:
            return await self.db.write(crash.crash_round, rnd.id, game_hash, now=self.clock.now()), False
        except Exception as e:
            log.exception("crash round %s could not be settled: marked stuck, the game goes on", rnd.id)
            error = f"{type(e).__name__}: {e}"
            await self.db.write(
                crash.mark_stuck,
                rnd.id,
                game_hash,
                error=error,
                admin_ids=self.admin_ids,
                now=self.clock.now(),
            )
            return await self.db.read(crash.round_bets, rnd.id), True

    async def run_round(self) -> RoundReport | None:
        """Open (or resume) a round, take bets, run the curve, settle, reveal. None: no chain,
        or the lease went to another instance."""
        await self._settle_stuck()
        rnd = await self._open_round()
        if rnd is None:
            return None
        self._opened.set()
        await self._load_chain(rnd.chain_id)  # resumed after a restart: for the hash at the end
        if rnd.status == crash.BETTING:
            await self._join_queued(rnd)
            if not await self._take_bets(rnd):
                log.warning("crash lease lost while taking bets; another instance runs round %s", rnd.id)
                return None
            rnd = await self.db.write(crash.start_round, rnd.id, now=self.clock.now())
        bust = rnd.bust_at()
        assert bust is not None  # the round has started
        self.budget = EditBudget(self.params.get("crash.edits_per_second"))
        bets = await self.db.read(crash.round_bets, rnd.id)
        reloaded = renewed = self.clock.now()
        while (now := self.clock.now()) < bust:
            if (now - reloaded).total_seconds() >= 1:  # learn about cash-outs once a second
                bets, reloaded = await self.db.read(crash.round_bets, rnd.id), now
            if (renewed := await self._keep_lease(renewed)) is None:
                log.warning("crash lease lost during round %s; another instance finishes it", rnd.id)
                return None
            self._views(rnd, bets, now)
            await self.clock.sleep(min(self.tick, (bust - now).total_seconds()))
        game_hash = self.chains.game_hash(rnd.chain_id, rnd.game).hex()
        started = time.perf_counter()
        settled, stuck = await self._settle(rnd, game_hash)
        took = time.perf_counter() - started
        late = self.clock.now() - bust
        self._finals(rnd, settled, game_hash)
        await self.views.announce(self.bot, self.params, rnd, game_hash)
        return RoundReport(rnd, settled, took, late, stuck)

    def _edit(self, bet: crash.CrashBet, text: str, markup: Any) -> None:
        async def go():
            bulk_lane()  # this task's edits wait behind replies in the bot's send budget
            try:
                await self.bot.edit_message_text(
                    text=text, chat_id=bet.chat_id, message_id=bet.message_id, reply_markup=markup
                )
            except TelegramForbiddenError:  # they blocked the bot: counted apart, left out of broadcasts
                if bet.chat_id > 0:  # a private chat is the user's own id
                    with contextlib.suppress(Exception):
                        await self.db.write(ops.mark_blocked, bet.chat_id)
            except Exception:  # "not modified", deleted message: the game goes on
                log.debug("crash view edit failed", exc_info=True)

        task = asyncio.create_task(go())
        self._edits.add(task)
        task.add_done_callback(self._edits.discard)

    def _views(self, rnd: crash.Round, bets: list[crash.CrashBet], now: datetime) -> None:
        viewers = {b.chat_id: b for b in bets if b.message_id is not None}
        if not viewers:
            return
        assert rnd.started_at is not None and self.budget is not None  # set when the round started
        elapsed_ms = int((now - rnd.started_at).total_seconds() * 1000)
        m = multiplier_at(elapsed_ms)
        for chat in self.budget.pick(elapsed_ms / 1000, list(viewers)):
            bet = viewers[chat]
            text, markup = self.views.live(rnd, bet, m)
            self._edit(bet, text, markup)

    def _finals(self, rnd: crash.Round, bets: list[crash.CrashBet], game_hash: str) -> None:
        """The last edit of each view, spread over time by the same budget (in the background)."""
        viewers = [b for b in bets if b.message_id is not None]
        if not viewers:
            return

        async def go():
            budget = EditBudget(self.params.get("crash.edits_per_second"))
            pending = {b.chat_id: b for b in viewers}
            t0 = time.monotonic()
            while pending:
                for chat in budget.pick(time.monotonic() - t0, list(pending)):
                    bet = pending.pop(chat)
                    self._edit(bet, self.views.final(rnd, bet, game_hash), None)
                if pending:
                    await asyncio.sleep(0.05)

        task = asyncio.create_task(go())
        self._edits.add(task)
        task.add_done_callback(self._edits.discard)
