"""The faucet's picture captcha: milliseconds per picture, and pictures per second off the loop.

    python bench/captcha.py [--n 300]

Same-run references: a blank PNG of the same size (Pillow's encode alone), and the 2FA QR
code (segno), the other picture the bot draws. Then the puzzle rendered as the handler does
it, through ``asyncio.to_thread``, 1 and 8 at a time, to show the event loop stays free.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from core.identity import captcha_image, totp
from core.identity.captcha import _rng  # noqa: E402


def per_call(fn, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000


def blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (captcha_image.WIDTH, captcha_image.HEIGHT), (240, 240, 240)).save(out, "PNG")
    return out.getvalue()


def puzzle() -> bytes:
    options = tuple(_rng.sample(captcha_image.SHAPES, 6))
    return captcha_image.render(options, _rng.choice(options))


async def threaded(n: int, concurrency: int) -> tuple[float, float]:
    """Pictures per second through asyncio.to_thread, and the longest the loop waited for a tick."""
    sem = asyncio.Semaphore(concurrency)
    lag, stop = [0.0], asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lag[0] = max(lag[0], time.perf_counter() - t - 0.001)

    async def one() -> None:
        async with sem:
            await asyncio.to_thread(puzzle)

    tick = asyncio.create_task(ticker())
    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    elapsed = time.perf_counter() - t
    stop.set()
    await tick
    return n / elapsed, lag[0] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    n = ap.parse_args().n
    puzzle()  # warm the font cache
    size = statistics.mean(len(puzzle()) for _ in range(20))
    for name, fn in (
        ("reference: blank PNG encode", blank_png),
        (
            "reference: 2FA QR code (segno)",
            lambda: totp.qr_png("otpauth://totp/Dustpan:1?secret=JBSWY3DPEHPK3PXP"),
        ),
        ("captcha picture", puzzle),
    ):
        median, p99 = per_call(fn, n)
        print(f"{name:34s} median {median:6.2f} ms   p99 {p99:6.2f} ms")
    print(f"captcha picture size: {size / 1024:.0f} KiB on average")
    for c in (1, 8):
        rate, lag = asyncio.run(threaded(n, c))
        print(f"to_thread, {c} at a time: {rate:6.0f} pictures/s, longest event-loop stall {lag:5.1f} ms")


if __name__ == "__main__":
    main()
