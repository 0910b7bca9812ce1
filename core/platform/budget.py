"""One send budget per bot: every message of every instance draws from it.

Telegram lets a bot send about 30 messages a second overall, one a second to a private chat and
20 a minute to a group; past that it answers 429 with ``retry_after``. Broadcasts, notices, crash
edits and the replies to users' own updates all draw from this one budget, so together they stay
under it.

* **A sliding window**, not a token bucket: a grant is recorded with its time, and a message is
  granted only while fewer than the limit were granted in the last ``window`` (1.1 s: a margin over
  one second for the jitter on the way to Telegram). A bucket refilled while full allows up to
  twice its rate in some second; the window never passes it in any ``window``.
* **Two lanes, so replies are never starved**: replies may fill the window up to ``send.rate``
  (default 30, all senders together); bulk senders (broadcasts, notices, crash edits) only up to
  ``broadcast.rate`` (default 25). A broadcast running flat out leaves ``send.rate -
  broadcast.rate`` messages a second to the people talking to the bot.
* **Per chat** (``chat_id``): a bulk sender waits until the chat had fewer than 1 message in the
  last second (private chats, ids > 0) or 20 in the last minute (groups, ids < 0). Replies are
  counted in the chat's window (so a notice does not follow a reply within the second) but never
  wait for it: a user who sends three commands gets three answers.
* **429**: ``hold(seconds)`` pauses every lane, for every sender and every instance.

With ``redis`` (bot.py passes the REDIS_URL client) the window, the chats' windows and the pause
live in Redis, keyed by a hash of the bot token, and one Lua script checks and records a grant
atomically using Redis's own clock (``TIME``), so instances on different machines agree. If Redis
cannot be reached, the budget logs it once and goes on in memory (each instance then keeps its own
window: a few 429s are better than no messages), trying Redis again every ``RETRY_REDIS`` seconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from core.platform.params import define

log = logging.getLogger(__name__)

define("send.rate", "30", "int", minimum=1, maximum=30)  # messages a second, all senders of the bot together

WINDOW = 1.1  # float ok: seconds; the overall window
PRIVATE_CHAT = (1, 1.0)  # one message in any second
GROUP_CHAT = (20, 60.0)  # twenty in any minute
RETRY_REDIS = 5.0  # float ok: seconds between tries of an unreachable Redis
REDIS_TIMEOUT = 1.0  # float ok: seconds one Redis call may take before the budget falls back
MAX_NAP = 0.5  # float ok: a waiter looks again at least this often (settings change, pauses end)

Rate = Callable[[], int] | int

# Set by acquire(): the next message this task sends (to that chat) is paid for already (the session
# middleware of bot.py does not draw for it again). _ANY: acquired without a chat.
_NONE, _ANY = object(), object()
_prepaid: contextvars.ContextVar[object] = contextvars.ContextVar("dustpan_send_prepaid", default=_NONE)
# Set by bulk senders that send through the session without calling acquire() (the crash views).
_bulk: contextvars.ContextVar[bool] = contextvars.ContextVar("dustpan_send_bulk", default=False)


def take_prepaid(chat_id: int | None) -> bool:
    """True (once) when the caller's task acquired the budget for the message it sends now
    (for this chat, or without naming one)."""
    paid = _prepaid.get()
    if paid is _NONE or (paid is not _ANY and paid != chat_id):
        return False
    _prepaid.set(_NONE)
    return True


def bulk_lane() -> contextvars.Token[bool]:
    """Messages sent from here on in this task (and tasks it starts) draw as bulk, not replies."""
    return _bulk.set(True)


def in_bulk_lane() -> bool:
    return _bulk.get()


def chat_limit(chat_id: int) -> tuple[int, float]:
    """(messages, seconds) Telegram allows one chat: groups and channels have negative ids."""
    return GROUP_CHAT if chat_id < 0 else PRIVATE_CHAT


def budget_key(token: str) -> str:
    """The Redis key prefix of a bot's budget: a hash of its token (never the token itself)."""
    return "dustpan:send:" + hashlib.sha256(token.encode()).hexdigest()[:16]


class _Window:
    """The in-memory windows: one instance's view, on its own clock."""

    def __init__(self, window: float) -> None:  # float ok: seconds
        self.window = window
        self.sent: deque[float] = deque()  # float ok: clock seconds of the grants
        self.chats: dict[int, deque[float]] = {}  # float ok: clock seconds
        self.until = 0.0  # float ok: no grant before this (a 429's retry_after)
        self.prune_at = 10_000

    def try_grant(self, now: float, limit: int, chat_id: int | None, wait_chat: bool) -> float:  # float ok
        """Grant (return 0) or say how long to wait (> 0). Synchronous, so atomic in one loop."""
        if now < self.until:
            return self.until - now
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        if len(self.sent) >= limit:
            return self.sent[len(self.sent) - limit] + self.window - now
        chat: deque[float] | None = None
        if chat_id is not None:
            climit, cwindow = chat_limit(chat_id)
            chat = self.chats.setdefault(chat_id, deque())
            while chat and chat[0] <= now - cwindow:
                chat.popleft()
            if wait_chat and len(chat) >= climit:
                return chat[len(chat) - climit] + cwindow - now
        self.sent.append(now)
        if chat is not None:
            chat.append(now)
            if len(self.chats) > self.prune_at:  # forget quiet chats rather than grow forever
                self.chats = {c: q for c, q in self.chats.items() if q and q[-1] > now - chat_limit(c)[1]}
                self.prune_at = max(10_000, 2 * len(self.chats))  # amortised: not once per grant
        return 0.0

    def hold(self, until: float) -> None:  # float ok: clock seconds
        self.until = max(self.until, until)


# KEYS: window, pause, chat window (or the window again when there is no chat), sequence.
# ARGV: limit, window µs, chat limit, chat window µs, 1 to wait for the chat, 1 if there is a chat.
# Returns {granted 1|0, µs to wait, Redis time µs}.
_GRANT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > now then return {0, pause - now, now} end
local limit, win = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) + win - now), now}
end
local has_chat = ARGV[6] == '1'
if has_chat then
  local climit, cwin = tonumber(ARGV[3]), tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - cwin)
  local cn = redis.call('ZCARD', KEYS[3])
  if ARGV[5] == '1' and cn >= climit then
    local oldest = redis.call('ZRANGE', KEYS[3], cn - climit, cn - climit, 'WITHSCORES')
    return {0, math.max(1, tonumber(oldest[2]) + cwin - now), now}
  end
end
local id = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[1], now, id)
redis.call('PEXPIRE', KEYS[1], math.ceil(win / 1000) + 1000)
if has_chat then
  redis.call('ZADD', KEYS[3], now, id)
  redis.call('PEXPIRE', KEYS[3], math.ceil(tonumber(ARGV[4]) / 1000) + 1000)
end
return {1, 0, now}
"""

# KEYS: pause. ARGV: µs to pause. Never shortens a longer pause.
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untill = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < untill then
  redis.call('SET', KEYS[1], string.format('%.0f', untill), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
"""


class SendBudget:
    """``await acquire(chat_id)`` before a bulk message, ``acquire(chat_id, reply=True)`` before a
    reply; ``await hold(retry_after)`` after a 429. ``rate`` is the bulk lane's limit
    (``broadcast.rate``), ``total`` the limit of all lanes together (``send.rate``; by default
    ``rate``, so a budget made with one number has one lane)."""

    def __init__(
        self,
        rate: Rate,
        *,
        total: Rate | None = None,
        redis: Any = None,  # redis.asyncio.Redis (or None: this process only)
        key: str = "dustpan:send:default",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        window: float = WINDOW,  # float ok: seconds
    ) -> None:
        self._rate = rate if callable(rate) else (lambda: rate)
        total = rate if total is None else total
        self._total = total if callable(total) else (lambda: total)
        self._clock, self._sleep = clock, sleep
        self._window = window
        self._memory = _Window(window)
        self._redis, self._key = redis, key
        self._grant: Any = redis.register_script(_GRANT) if redis is not None else None
        self._hold: Any = redis.register_script(_HOLD) if redis is not None else None
        self._redis_down_until = 0.0  # float ok: monotonic; use memory until then
        self._down_logged = False

    @property
    def shared(self) -> bool:
        """True while the budget is kept in Redis (not fallen back to memory)."""
        return self._redis is not None and time.monotonic() >= self._redis_down_until

    def limits(self, reply: bool) -> int:
        bulk = max(1, self._rate())
        return max(bulk, self._total()) if reply else min(bulk, max(1, self._total()))

    async def acquire(self, chat_id: int | None = None, *, reply: bool = False) -> float:  # float ok
        """Wait until one more message fits: in the window of its lane, in the chat's window (bulk
        only) and after any 429 pause. Returns the time of the grant (Redis's clock in seconds when
        shared, else this budget's clock). The message the caller sends next is paid for: the
        session middleware does not draw for it again."""
        granted = await self.draw(chat_id, reply=reply)
        _prepaid.set(_ANY if chat_id is None else chat_id)
        return granted

    async def draw(self, chat_id: int | None = None, *, reply: bool = False) -> float:  # float ok
        """``acquire`` for the message being sent now (the session middleware's): nothing is
        marked paid for later."""
        while True:
            limit = self.limits(reply)
            if self.shared:
                try:
                    granted, wait = await self._redis_try(limit, chat_id, not reply)
                except Exception as err:  # unreachable, timed out, refused: fall back, never stop sending
                    self._fall_back(err)
                    continue
            else:
                now = self._clock()
                wait = self._memory.try_grant(now, limit, chat_id, not reply)
                granted = now
            if wait <= 0:
                return granted
            await self._sleep(min(wait, MAX_NAP))

    async def hold(self, seconds: float) -> None:  # float ok: seconds
        """Telegram answered 429: nobody (no lane, no instance) sends for ``seconds``."""
        self._memory.hold(self._clock() + seconds)
        if self.shared:
            try:
                async with asyncio.timeout(REDIS_TIMEOUT):  # no task per call, unlike wait_for on 3.11
                    await self._hold(keys=[self._key + ":pause"], args=[int(seconds * 1_000_000)])
            except Exception as err:
                self._fall_back(err)

    async def _redis_try(
        self, limit: int, chat_id: int | None, wait_chat: bool
    ) -> tuple[float, float]:  # float ok
        climit, cwindow = chat_limit(chat_id) if chat_id is not None else (1, 1.0)
        chat_key = f"{self._key}:chat:{chat_id}" if chat_id is not None else self._key
        async with asyncio.timeout(REDIS_TIMEOUT):
            ok, wait_us, now_us = await self._grant(
                keys=[self._key, self._key + ":pause", chat_key, self._key + ":seq"],
                args=[
                    limit,
                    int(self._window * 1_000_000),
                    climit,
                    int(cwindow * 1_000_000),
                    int(wait_chat),
                    int(chat_id is not None),
                ],
            )
        if self._down_logged:
            log.warning("send budget: Redis is back; the budget is shared again")
            self._down_logged = False
        return int(now_us) / 1_000_000, (0.0 if int(ok) else int(wait_us) / 1_000_000)

    def _fall_back(self, err: BaseException) -> None:
        self._redis_down_until = time.monotonic() + RETRY_REDIS
        if not self._down_logged:
            log.warning(
                "send budget: Redis unreachable (%s); this instance keeps its own budget until it is back",
                type(err).__name__,
            )
            self._down_logged = True
