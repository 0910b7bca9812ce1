"""One send budget per bot: at most ``rate`` messages in any one second, all senders together.

Broadcasts, notices and crash edits of the same bot draw from it, so together they never pass
Telegram's limit. A sliding window (the times of the last ``rate`` sends), not a token bucket:
a bucket refilled while full allows up to twice its rate in some one-second window, and the
promise here is "never more than the budget in any second".

It lives in memory, so it holds within one process; several instances sharing a token would need
the same window in Redis (a sorted set per bot, ZREMRANGEBYSCORE + ZCARD + ZADD in one script):
``SendBudget`` is the interface to keep, ``acquire``/``hold``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class SendBudget:
    def __init__(
        self,
        rate: Callable[[], int] | int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        window: float = 1.1,  # float ok: seconds; a margin over 1 s for the jitter on the way to Telegram
    ) -> None:
        self._window = window
        self._rate = rate if callable(rate) else (lambda: rate)
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()  # float ok: monotonic seconds
        self._until = 0.0  # float ok: no send before this (a 429's retry_after)
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more message fits in the last second (and any 429 pause is over)."""
        async with self._lock:  # first come, first served: no sender starves another
            while True:
                now = self._clock()
                if now < self._until:
                    await self._sleep(self._until - now)
                    continue
                while self._sent and self._sent[0] <= now - self._window:
                    self._sent.popleft()
                rate = max(1, self._rate())
                if len(self._sent) < rate:
                    self._sent.append(now)
                    return
                await self._sleep(self._sent[len(self._sent) - rate] + self._window - now)

    def hold(self, seconds: float) -> None:  # float ok: seconds
        """Telegram answered 429: nobody sends for ``seconds``."""
        self._until = max(self._until, self._clock() + seconds)
