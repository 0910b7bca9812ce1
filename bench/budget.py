"""The send budget's own cost per grant: in memory, and in Redis (one Lua script per grant).

    PYTHONPATH=. python bench/budget.py [N]

The limit is lifted so nothing waits: what is measured is what a grant costs the sender. The
references, measured in the same run: for memory, a bare deque append/popleft per grant; for
Redis, a bare EVALSHA of a script that only returns (the round trip every shared grant pays).
Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379/5); its keys are removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections import deque

from core.platform.budget import SendBudget

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
HUGE = 10**9


def per_second(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s ({seconds / n * 1e6:.1f} µs each)"


async def timed(n: int, tasks: int, grant) -> float:
    per = n // tasks

    async def run() -> None:
        for i in range(per):
            await grant(i)

    start = time.perf_counter()
    await asyncio.gather(*(run() for _ in range(tasks)))
    return time.perf_counter() - start


async def main(n: int) -> None:
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1 and 5 min), {os.cpu_count()} cores")
    memory = SendBudget(HUGE)
    sent: deque[float] = deque()

    async def bare(i: int) -> None:
        sent.append(time.monotonic())
        if len(sent) > 1000:
            sent.popleft()

    ref = await timed(n, 1, bare)
    got = await timed(n, 1, lambda i: memory.acquire(i))
    print(f"memory:  grants {per_second(n, got)}; bare deque {per_second(n, ref)}; ratio {ref / got:.2f}")

    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        info = await redis.info("server")
    except Exception as exc:  # noqa: BLE001 - no Redis: nothing more to measure
        print(f"Redis: skipped ({type(exc).__name__})")
        return
    key = f"dustpan:send:bench:{uuid.uuid4().hex}"
    try:
        print(f"Redis {info['redis_version']} at {REDIS_URL.split('@')[-1]}")
        noop = redis.register_script("return 1")
        shared = SendBudget(HUGE, redis=redis, key=key)
        await shared.acquire()  # load the script
        for tasks in (1, 8):
            ref = await timed(n, tasks, lambda i: noop(keys=[key + ":noop"], args=[]))
            got = await timed(n, tasks, lambda i: shared.acquire(i))
            assert shared.shared, "fell back to memory during the run"
            print(
                f"Redis, {tasks} task(s): grants {per_second(n, got)}; bare EVALSHA {per_second(n, ref)}; "
                f"ratio {ref / got:.2f}"
            )
    finally:
        keys = [k async for k in redis.scan_iter(key + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
