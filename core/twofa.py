"""Two-factor authentication, the stateful half: who has TOTP on, codes used, failures.

A user turns 2FA on in two steps: ``begin_setup`` stores a fresh secret (encrypted with
core.totp.SecretBox under SECRET_KEY, aad ``totp:{user_id}``) and returns it once to be
shown; ``confirm_setup`` turns it on only after a valid code and returns ten backup
codes (stored as peppered hashes, shown once).

``require(conn, user_id, code, ...)`` is what every guarded action calls in its own
transaction: it does nothing when 2FA is off; otherwise it accepts a TOTP code (±1 step,
never the same step twice: the step is claimed by one conditional UPDATE checked by row
count, so of two concurrent submissions one wins) or an unused backup code. A wrong code
raises ``TwoFactorFailed``; the caller's transaction rolls back, so the failure is
counted by ``record_failure`` in a transaction of its own (see handlers.twofa.guarded).
After ``twofa.max_failures`` failures in 24 hours every 2FA action is refused until the
oldest of them is 24 hours old (``TwoFactorLocked`` says when). Every function that checks
a code takes that setting as the required ``max_failures`` (no default to drift from it).

Secrets, codes and backup codes are never logged, audited or put in an error's params.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core import audit, totp
from core.errors import DomainError
from core.params import define
from core.schema import UTCDateTime, id_column, metadata, utcnow

twofa = Table(
    "twofa",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("secret", String(200), nullable=False, comment="SecretBox token, aad totp:<user_id>"),
    Column("enabled", Boolean, nullable=False),
    Column("last_step", BigInteger, nullable=True, comment="last accepted TOTP time step"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("enabled_at", UTCDateTime, nullable=True),
)
twofa_backup_codes = Table(
    "twofa_backup_codes",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("used_at", UTCDateTime, nullable=True),
)
Index("ix_twofa_backup_codes_user", twofa_backup_codes.c.user_id)
twofa_failures = Table(
    "twofa_failures",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
Index("ix_twofa_failures_user_at", twofa_failures.c.user_id, twofa_failures.c.at)

define("twofa.max_failures", "10", "int", minimum=1, maximum=1000)
WINDOW = timedelta(hours=24)


class TwoFactorRequired(DomainError):
    reason = "twofa_required"


class TwoFactorFailed(DomainError):
    """Wrong, malformed, expired or replayed code. Carries no code."""

    reason = "twofa_wrong_code"


class TwoFactorLocked(DomainError):
    def __init__(self, until: datetime) -> None:
        super().__init__("twofa_locked", until=until.strftime("%Y-%m-%d %H:%M UTC"))


class TwoFactorState(DomainError):
    """2FA is already on (setup), or off (disable), or setup was not started."""


@dataclass(frozen=True, slots=True)
class Setup:
    secret: str  # show once; never log
    uri: str

    def __repr__(self) -> str:
        return "Setup(<redacted>)"


_ROW = select(twofa).where(twofa.c.user_id == bindparam("u"))
_FAILS = select(func.count(), func.min(twofa_failures.c.at)).where(
    twofa_failures.c.user_id == bindparam("u"), twofa_failures.c.at > bindparam("since")
)
_CLAIM_STEP = (
    update(twofa)
    .where(
        twofa.c.user_id == bindparam("u"),
        (twofa.c.last_step.is_(None)) | (twofa.c.last_step < bindparam("s")),
    )
    .values(last_step=bindparam("s"))
)
_USE_BACKUP = (
    update(twofa_backup_codes)
    .where(
        twofa_backup_codes.c.user_id == bindparam("u"),
        twofa_backup_codes.c.code_hash == bindparam("h"),
        twofa_backup_codes.c.used_at.is_(None),
    )
    .values(used_at=bindparam("now"))
)


def is_enabled(conn: Connection, user_id: int) -> bool:
    row = conn.execute(_ROW, {"u": user_id}).first()
    return bool(row and row.enabled)


def check_lock(conn: Connection, user_id: int, now: datetime | None = None, *, max_failures: int) -> None:
    """Raise TwoFactorLocked if the user failed ``max_failures`` codes in the last 24 hours."""
    now = now or utcnow()
    count, oldest = conn.execute(_FAILS, {"u": user_id, "since": now - WINDOW}).one()
    if count >= max_failures:
        raise TwoFactorLocked(oldest + WINDOW)


def record_failure(conn: Connection, user_id: int, now: datetime | None = None) -> None:
    """Count one failed code (in its own transaction: the refused action rolled back)."""
    now = now or utcnow()
    conn.execute(twofa_failures.insert().values(user_id=user_id, at=now))
    conn.execute(delete(twofa_failures).where(twofa_failures.c.at < now - 2 * WINDOW))


def begin_setup(
    conn: Connection, user_id: int, secret_key: str, account_name: str, now: datetime | None = None
) -> Setup:
    """Store a new, not yet enabled secret for ``user_id`` and return it to be shown once."""
    now = now or utcnow()
    row = conn.execute(_ROW, {"u": user_id}).first()
    if row is not None and row.enabled:
        raise TwoFactorState("twofa_already_on")
    secret = totp.new_secret()
    token = totp.SecretBox(secret_key).encrypt(secret, aad=f"totp:{user_id}")
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[conn.dialect.name]
    ins = dialect.insert(twofa).values(user_id=user_id, secret=token, enabled=False, created_at=now)
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=[twofa.c.user_id],
            set_={"secret": token, "enabled": False, "last_step": None, "created_at": now},
            where=twofa.c.enabled == False,  # noqa: E712 - SQL expression
        )
    )
    return Setup(secret, totp.provisioning_uri(secret, account_name))


def _check_totp(conn, row, user_id: int, code: str, secret_key: str, now: datetime) -> bool:
    secret = totp.SecretBox(secret_key).decrypt(row.secret, aad=f"totp:{user_id}")
    step = totp.match_step(secret, code, now.timestamp(), row.last_step)
    if step is None:
        return False
    return conn.execute(_CLAIM_STEP, {"u": user_id, "s": step}).rowcount == 1


def confirm_setup(
    conn: Connection,
    user_id: int,
    code: str,
    secret_key: str,
    now: datetime | None = None,
    *,
    max_failures: int,
) -> list[str]:
    """Turn 2FA on after a valid code; returns ten backup codes (only their hashes are kept)."""
    now = now or utcnow()
    check_lock(conn, user_id, now, max_failures=max_failures)
    row = conn.execute(_ROW, {"u": user_id}).first()
    if row is None:
        raise TwoFactorState("twofa_not_started")
    if row.enabled:
        raise TwoFactorState("twofa_already_on")
    if not _check_totp(conn, row, user_id, code, secret_key, now):
        raise TwoFactorFailed()
    conn.execute(update(twofa).where(twofa.c.user_id == user_id).values(enabled=True, enabled_at=now))
    codes = totp.new_backup_codes(10)
    pepper = totp.backup_pepper(secret_key)
    conn.execute(delete(twofa_backup_codes).where(twofa_backup_codes.c.user_id == user_id))
    conn.execute(
        insert(twofa_backup_codes),
        [{"user_id": user_id, "code_hash": totp.hash_backup_code(c, pepper)} for c in codes],
    )
    audit.record(conn, "twofa_on", actor=user_id, now=now)
    return codes


def require(
    conn: Connection,
    user_id: int,
    code: str | None,
    secret_key: str,
    now: datetime | None = None,
    *,
    max_failures: int,
) -> bool:
    """Check a code for a guarded action inside the action's transaction.

    Returns False when 2FA is off (nothing to check), True when a code was accepted.
    Raises TwoFactorRequired (no code given), TwoFactorLocked, or TwoFactorFailed.
    """
    row = conn.execute(_ROW, {"u": user_id}).first()
    if row is None or not row.enabled:
        return False
    now = now or utcnow()
    check_lock(conn, user_id, now, max_failures=max_failures)
    if not code:
        raise TwoFactorRequired()
    if totp.normalise_code(code) is not None:
        ok = _check_totp(conn, row, user_id, code, secret_key, now)
    elif totp.normalise_backup_code(code) is not None:
        digest = totp.hash_backup_code(code, totp.backup_pepper(secret_key))
        ok = conn.execute(_USE_BACKUP, {"u": user_id, "h": digest, "now": now}).rowcount == 1
    else:
        ok = False
    if not ok:
        raise TwoFactorFailed()
    return True


def verify(
    conn: Connection,
    user_id: int,
    code: str,
    secret_key: str,
    now: datetime | None = None,
    *,
    max_failures: int,
) -> bool:
    """A use case that only checks a code (True when accepted); for tests and admin prompts."""
    return require(conn, user_id, code, secret_key, now, max_failures=max_failures)


def disable(
    conn: Connection, user_id: int, code: str | None, secret_key: str, now=None, *, max_failures: int
) -> None:
    """Turn 2FA off; needs a valid code. Backup codes are deleted with it."""
    if not is_enabled(conn, user_id):
        raise TwoFactorState("twofa_not_on")
    require(conn, user_id, code, secret_key, now, max_failures=max_failures)
    conn.execute(delete(twofa).where(twofa.c.user_id == user_id))
    conn.execute(delete(twofa_backup_codes).where(twofa_backup_codes.c.user_id == user_id))
    audit.record(conn, "twofa_off", actor=user_id, now=now)


def guarded_call(
    conn: Connection, user_id: int, code: str | None, secret_key: str, max_failures: int, fn, /, **kwargs
):
    """Check ``user_id``'s code (when 2FA is on), then run the use case ``fn`` in the same transaction."""
    require(conn, user_id, code, secret_key, max_failures=max_failures)
    return fn(conn, **kwargs)
