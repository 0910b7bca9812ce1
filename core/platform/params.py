"""Feature settings (rewards, intervals, limits, fees) that admins can change at runtime.

A feature declares each setting once with ``define()``: its key, default and kind.
The value in force is, first to last: what an admin stored (``params`` table),
the environment (the key upper-cased with dots as underscores, e.g.
``FAUCET_REWARD_BTC``), then the default. Values are parsed to ints: amounts in
minor units of the setting's asset, durations in seconds, shares in basis points.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, select

from core.errors import DomainError, InvalidParam
from core.platform import audit
from core.platform.db import Database
from core.platform.engines import insert_for
from core.platform.schema import params as params_table
from core.platform.schema import utcnow

T = TypeVar("T")

KINDS = ("int", "amount", "duration", "share", "bool", "text")


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    default: str
    kind: str
    asset: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None  # text settings: the only values accepted
    check: Callable[[Param, object], None] | None = None  # raises InvalidParam for a value it refuses

    @property
    def env_name(self) -> str:
        return re.sub(r"[^A-Z0-9]", "_", self.key.upper())

    def parse(self, raw: str) -> int | bool | str:
        """Text as an admin or the environment writes it -> the int (or bool/str) in force."""
        raw = (raw or "").strip()
        try:
            value: int | bool | str = _PARSERS[self.kind](raw, self)
        except DomainError:
            raise
        except (ValueError, ArithmeticError):
            raise InvalidParam("bad_value", key=self.key, value=raw[:40], kind=self.kind) from None
        if self.choices is not None and value not in self.choices:
            raise InvalidParam("bad_value", key=self.key, value=raw[:40], kind=self.kind)
        if isinstance(value, int) and not isinstance(value, bool):
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise InvalidParam("out_of_range", key=self.key, value=raw[:40], kind=self.kind)
        if self.check is not None:
            self.check(self, value)
        return value


def _int(raw: str, _p: Param) -> int:
    if not re.fullmatch(r"-?[0-9]{1,18}", raw, re.ASCII):
        raise ValueError(raw)
    return int(raw)


def _amount(raw: str, p: Param) -> int:
    """Amounts are parsed by core.money, which registers its parser (platform is below money)."""
    if raw == "0":
        return 0
    if not _AMOUNT_PARSER:
        raise RuntimeError("no amount parser: import core.money (it registers one)")
    return _AMOUNT_PARSER[0](raw, p.asset or "")


_AMOUNT_PARSER: list[Callable[[str, str], int]] = []


def register_amount_parser(parse: Callable[[str, str], int]) -> None:
    """``parse(text, asset_code) -> minor units``: how "amount" settings read (core.money sets it)."""
    _AMOUNT_PARSER[:] = [parse]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(raw: str, _p: Param) -> int:
    m = re.fullmatch(r"([0-9]{1,9})\s*([smhd]?)", raw.lower(), re.ASCII)
    if not m:
        raise ValueError(raw)
    return int(m[1]) * _UNITS[m[2] or "s"]


def _share(raw: str, _p: Param) -> int:
    """'10%' or '10' or '2.5%' -> basis points (1000, 1000, 250)."""
    m = re.fullmatch(r"([0-9]{1,3})(?:[.,]([0-9]{1,2}))?\s*%?", raw, re.ASCII)
    if not m:
        raise ValueError(raw)
    bp = int(m[1]) * 100 + int((m[2] or "0").ljust(2, "0"))
    if bp > 10000:
        raise ValueError(raw)
    return bp


def _bool(raw: str, _p: Param) -> bool:
    low = raw.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


_PARSERS: dict[str, Callable[[str, Param], int | bool | str]] = {
    "int": _int,
    "amount": _amount,
    "duration": _duration,
    "share": _share,
    "bool": _bool,
    "text": lambda r, p: r,
}

REGISTRY: dict[str, Param] = {}


def define(
    key: str,
    default: str,
    kind: str,
    *,
    asset: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: tuple[str, ...] | None = None,
    check: Callable[[Param, object], None] | None = None,
) -> Param:
    """Declare a setting (at import time of the feature that uses it).

    ``choices``: the values a text setting may take; anything else is refused as a bad value
    (by ``/set``, and from the environment), so a typo cannot select a fallback silently.
    ``check(param, value)``: a further rule for a parsed value (e.g. a payout backend that
    cannot send the setting's coin); it raises InvalidParam with its own reason.
    """
    if kind not in KINDS or (choices is not None and kind != "text"):
        raise ValueError(kind)
    p = Param(key, default, kind, asset, minimum, maximum, tuple(choices) if choices else None, check)
    p.parse(default)
    REGISTRY[key] = p
    return p


class Params:
    """The settings in force, cached for ``ttl`` seconds so hot paths read memory.

    Another instance's change is seen within ``ttl``; this instance's (made with ``store``) at once.
    """

    def __init__(self, env: Mapping[str, str] | None = None, ttl: float = 10.0) -> None:  # float ok: seconds
        self.env = os.environ if env is None else env
        self.ttl = ttl
        self._stored: dict[str, str] = {}
        self._parsed: dict[str, object] = {}
        self._derived: dict[object, object] = {}
        self._loaded_at = -1e9  # float ok: monotonic clock

    def get(self, key: str) -> Any:
        """The value in force, parsed (memoised until the next load or set)."""
        try:
            return self._parsed[key]
        except KeyError:
            value = self._parsed[key] = self._resolve(key)
            return value

    def derived(self, key: object, build: Callable[[], T]) -> T:
        """A value built from settings (``build()``, e.g. a feature's Settings), memoised until the
        next load or store: hot paths read it instead of parsing the same settings per update."""
        try:
            return self._derived[key]  # type: ignore[return-value]
        except KeyError:
            value = self._derived[key] = build()
            return value

    def _resolve(self, key: str) -> int | bool | str:
        p = REGISTRY.get(key)
        if p is None:
            raise InvalidParam("unknown_key", key=key)
        if key in self._stored:
            try:
                return p.parse(self._stored[key])
            except DomainError:
                pass  # a value stored by an older version that no longer parses: fall back
        raw = self.env.get(p.env_name)
        if raw is not None:
            return p.parse(raw)
        return p.parse(p.default)

    def source(self, key: str) -> str:
        p = REGISTRY[key]
        if key in self._stored:
            return "admin"
        return "env" if p.env_name in self.env else "default"

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self.ttl

    def load(self, conn: Connection) -> None:
        self._stored = {
            r.key: r.value for r in conn.execute(select(params_table.c.key, params_table.c.value))
        }
        self._parsed = {}
        self._derived = {}
        self._loaded_at = time.monotonic()

    async def refresh(self, db: Database, *, force: bool = False) -> None:
        if force or self.stale:
            # Claim the refresh before awaiting, so a burst of updates makes one read, not one each.
            self._loaded_at = time.monotonic()
            await db.read(self.load)

    def set(
        self, conn: Connection, key: str, raw: str, *, admin_id: int, now: datetime | None = None
    ) -> int | bool | str:
        """Store a new value (validated first) and audit it, in the caller's transaction.

        Returns the parsed value. The cache is not touched here: the transaction may still
        roll back (or be run again). ``store`` writes and then updates the cache.
        """
        p = REGISTRY.get(key)
        if p is None:
            raise InvalidParam("unknown_key", key=key[:64])
        value = p.parse(raw)
        now = now or utcnow()
        ins = insert_for(conn)(params_table).values(
            key=key, value=raw.strip(), updated_at=now, updated_by=admin_id
        )
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[params_table.c.key],
                set_={"value": ins.excluded.value, "updated_at": now, "updated_by": admin_id},
            )
        )
        audit.record(conn, "set_param", actor=admin_id, target=key, value=raw.strip(), now=now)
        return value

    async def store(self, db: Database, key: str, raw: str, *, admin_id: int) -> int | bool | str:
        """``set`` in a transaction of its own; once it has committed, this instance uses the value."""
        value = await db.write(self.set, key, raw, admin_id=admin_id)
        self._stored[key] = raw.strip()
        self._parsed.pop(key, None)
        self._derived = {}
        return value
