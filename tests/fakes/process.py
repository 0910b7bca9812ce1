"""Run the bot (``python bot.py``) as a subprocess for end-to-end tests.

Usage::

    async with FakeBotAPI() as api:
        proc = BotProcess(api.env(DATABASE_URL="sqlite+aiosqlite:///..."), log_path=tmp_path / "bot.log")
        await proc.start(ready=api.ready_when("getUpdates"))   # or "setWebhook" in webhook mode
        ...
        assert await proc.stop() == 0                           # SIGTERM, graceful shutdown expected
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = ["BotProcess", "BotProcessError"]


class BotProcessError(AssertionError):
    """The bot process misbehaved (died early, never got ready, ignored a signal). Includes its log."""


class BotProcess:
    """``sys.executable bot.py`` in ``cwd`` with ``env`` laid over the current environment.

    stdout and stderr go (interleaved) to ``log_path`` (a temp file by default); :meth:`output`
    returns it and every error raised here ends with its tail.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: str | os.PathLike[str] = Path(__file__).resolve().parents[2],
        *,
        argv: Sequence[str] = ("bot.py",),
        log_path: str | os.PathLike[str] | None = None,
        inherit_env: bool = True,
    ) -> None:
        self.cwd = Path(cwd)
        self.argv = [sys.executable, *argv]
        self.env = {**(os.environ if inherit_env else {}), "PYTHONUNBUFFERED": "1", **env}
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="bot-", suffix=".log")
            os.close(fd)
            log_path = name
        self.log_path = Path(log_path)
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    # ------------------------------------------------------------------ state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def output(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 60) -> str:
        text = self.output().splitlines()[-lines:]
        return "\n".join(["----- bot output (tail) -----", *text, "-----------------------------"])

    async def wait_for_output(self, text: str, timeout: float = 10.0) -> None:
        """Wait until ``text`` appears in the bot's output (e.g. a log line), or raise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for _ in itertools.count():
            if text in self.output():
                return
            if loop.time() > deadline or not self.running:
                raise BotProcessError(f"{text!r} not in the bot output after {timeout}s\n{self.tail()}")
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ lifecycle

    async def start(
        self,
        ready: Callable[[], Awaitable[Any] | Any] | None = None,
        *,
        timeout: float = 30.0,
    ) -> None:
        """Spawn the bot; if ``ready`` is given, wait until it completes (e.g. the fake API saw
        getUpdates). Raises BotProcessError if the bot exits first or ``timeout`` passes."""
        if self._proc is not None:
            raise RuntimeError("BotProcess already started; create a new one to restart")
        self._log = self._open_log()
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C on pytest doesn't also hit the bot
        )
        if ready is None:
            return

        async def probe() -> Any:
            result = ready()
            return await result if inspect.isawaitable(result) else result

        ready_task = asyncio.ensure_future(probe())
        exit_task = asyncio.ensure_future(self._proc.wait())
        try:
            done, _ = await asyncio.wait(
                {ready_task, exit_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (ready_task, exit_task):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        if ready_task in done and ready_task.exception() is None:
            return
        if ready_task in done:
            problem = f"readiness probe failed: {ready_task.exception()!r}"
        elif exit_task in done:
            problem = f"bot exited with code {self._proc.returncode} before it was ready"
        else:
            problem = f"bot not ready within {timeout}s"
        await self._force_kill()
        raise BotProcessError(f"{problem}\n{self.tail()}")

    async def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit on its own; returns the exit code."""
        proc = self._require()
        try:
            code = await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            raise BotProcessError(f"bot still running after {timeout}s\n{self.tail()}") from None
        self._finish()
        return code

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        proc = self._require()
        if proc.returncode is None:
            proc.send_signal(sig)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit code (negative = killed by that signal).
        If it hasn't exited after ``timeout`` s it is SIGKILLed and BotProcessError is raised."""
        proc = self._require()
        if proc.returncode is None:
            proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                await self._force_kill()
                name = signal.Signals(sig).name
                raise BotProcessError(
                    f"bot did not exit within {timeout}s after {name}; killed\n{self.tail()}"
                ) from None
        self._finish()
        return proc.returncode  # type: ignore[return-value]

    async def kill(self) -> int:
        """SIGKILL (no chance to clean up, like an OOM kill or power loss); returns the exit code."""
        await self._force_kill()
        return self._require().returncode  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Best-effort cleanup for fixtures: graceful stop, then kill. Never raises."""
        if self._proc is None:
            return
        with contextlib.suppress(BotProcessError, ProcessLookupError):
            await self.stop(timeout=5.0)
        await self._force_kill()

    async def __aenter__(self) -> BotProcess:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ internals

    def _open_log(self) -> IO[bytes]:
        log = open(self.log_path, "ab")  # closed in _finish()
        log.write(f"$ {' '.join(self.argv)}  (cwd={self.cwd}, {time.strftime('%X')})\n".encode())
        log.flush()
        return log

    def _require(self) -> asyncio.subprocess.Process:
        if self._proc is None:
            raise RuntimeError("BotProcess not started")
        return self._proc

    async def _force_kill(self) -> None:
        proc = self._require()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        self._finish()

    def _finish(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __repr__(self) -> str:
        return f"<BotProcess pid={self.pid} rc={self.returncode} log={self.log_path}>"
