"""Users: who they are (Telegram id, names, language) and how they first arrived.

A Telegram @username belongs to one user at a time, and it moves: someone gives theirs up and
another takes it. Payments by @username (/credit, the faucet API's ``send``) must reach its
current holder, so the user seen with a username last holds it here: ``upsert_user`` takes it
from any other row in the same transaction, and a unique index on lower(username) makes two
holders impossible (a concurrent claim on PostgreSQL fails on the index and is run again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, false, func, select, update

from core.errors import UnknownUser
from core.identity.tables import users
from core.platform import per_engine, utcnow

LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "ru", "id")
DEFAULT_LANGUAGE = "en"
# Telegram clients report regional tags ("pt-br") and, on old Android, "in" for Indonesian.
_ALIASES = {"in": "id"}


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str | None
    first_name: str
    language_code: str | None
    language: str | None
    start_payload: str | None
    started_at: datetime | None
    created_at: datetime

    @property
    def locale(self) -> str:
        """The stored choice beats what Telegram reports; English when neither is supported."""
        return self.language or supported_language(self.language_code) or DEFAULT_LANGUAGE


def supported_language(code: str | None) -> str | None:
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    base = _ALIASES.get(base, base)
    return base if base in LANGUAGES else None


def _user(row: Row[Any]) -> User:
    m = row._mapping
    return User(**{k: m[k] for k in User.__slots__})


def _upsert(insert: Callable[[Table], Any]) -> Any:
    ins = insert(users)
    stmt = ins.values(
        id=bindparam("id"),
        username=bindparam("username"),
        first_name=bindparam("first_name"),
        language_code=bindparam("language_code"),
        created_at=bindparam("now"),
        seen_at=bindparam("now"),
    )
    return stmt.on_conflict_do_update(
        index_elements=[users.c.id],
        set_={
            "username": ins.excluded.username,
            "first_name": ins.excluded.first_name,
            "language_code": ins.excluded.language_code,
            "seen_at": ins.excluded.seen_at,
            "is_blocked": false(),  # they write to the bot, so they no longer block it
        },
    ).returning(*users.c)


_UPSERT = per_engine(_upsert)
_RELEASE_USERNAME = (
    update(users)
    .where(func.lower(users.c.username) == bindparam("n"), users.c.id != bindparam("holder"))
    .values(username=None)
)
_BY_ID = select(users).where(users.c.id == bindparam("id"))
# Matches the (unique) expression index ix_users_username_lower: a lookup, not a scan.
_BY_USERNAME = select(users.c.id).where(func.lower(users.c.username) == bindparam("n"))
MAX_USER_ID = 2**63 - 1  # BIGINT


def upsert_user(
    conn: Connection,
    *,
    id: int,
    username: str | None,
    first_name: str,
    language_code: str | None,
    now: datetime | None = None,
) -> User:
    """Register a user on first contact, or refresh their names and language tag.

    A username the user is seen with is taken from whoever held it before (Telegram gives
    each to one account at a time, so that holder has given it up).
    """
    username = (username or None) and username[:64]
    if username is not None:
        conn.execute(_RELEASE_USERNAME, {"n": username.lower(), "holder": id})
    row = conn.execute(
        _UPSERT.of(conn),
        dict(
            id=id,
            username=username,
            first_name=(first_name or "")[:128],
            language_code=(language_code or None) and language_code[:16],
            now=now or utcnow(),
        ),
    ).one()
    return _user(row)


def record_start(conn: Connection, user_id: int, payload: str | None, now: datetime | None = None) -> bool:
    """Mark the user's first /start, keeping its deep-link payload. True only the first time."""
    result = conn.execute(
        update(users)
        .where(users.c.id == user_id, users.c.started_at.is_(None))
        .values(started_at=now or utcnow(), start_payload=(payload or None) and payload[:64])
    )
    return result.rowcount == 1


def set_language(conn: Connection, user_id: int, language: str) -> User:
    if language not in LANGUAGES:
        raise ValueError(language)
    conn.execute(update(users).where(users.c.id == user_id).values(language=language))
    return get_user(conn, user_id)


def get_user(conn: Connection, user_id: int) -> User:
    row = conn.execute(_BY_ID, {"id": user_id}).first()
    if row is None:
        raise UnknownUser(user_id)
    return _user(row)


def id_by_username(conn: Connection, name: str) -> int | None:
    """The id of the user who holds Telegram @username ``name`` now (case-insensitive, without the @)."""
    if not name or len(name) > 64:
        return None
    return conn.execute(_BY_USERNAME, {"n": name.lower()}).scalar()


def find_user(conn: Connection, ref: str) -> User:
    """A user by numeric Telegram id or by @username (case-insensitive)."""
    ref = (ref or "").strip()
    if ref.isascii() and ref.isdigit():
        if len(ref) > 19 or int(ref) > MAX_USER_ID:
            raise UnknownUser(ref)
        return get_user(conn, int(ref))
    user_id = id_by_username(conn, ref.removeprefix("@"))
    if user_id is None:
        raise UnknownUser(ref)
    return get_user(conn, user_id)


def count_users(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(users)).scalar_one()
