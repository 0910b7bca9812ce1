"""Two-factor authentication, the stateful half: who has TOTP on, codes used, failures.

A user turns 2FA on in two steps: ``begin_setup`` stores a fresh secret (encrypted with
core.identity.totp.SecretBox under SECRET_KEY, aad ``totp:{user_id}``) and returns it once to be
shown; ``confirm_setup`` turns it on only after a valid code and returns ten backup
codes (stored as peppered hashes, shown once).

``require(conn, user_id, code, ...)`` is what every guarded action calls in its own
transaction: it does nothing when 2FA is off; otherwise it accepts a TOTP code (±1 step,
never the same step twice: the step is claimed by one conditional UPDATE checked by row
count, so of two concurrent submissions one wins) or an unused backup code. A wrong code
raises ``TwoFactorFailed``. Every function that checks a code takes the setting
``twofa.max_failures`` as the required ``max_failures`` (no default to drift from it).

Failures: before a code is looked at, one conditional UPDATE counts it as a failure and
checks the limit in the same statement (``_CLAIM``: the user's ``failures`` column, at most
``max_failures`` within 24 hours of the first of them); a right code gives the count back in
the same transaction, and so does a right code replayed (its step already used: no guess).
So however many codes arrive at once, from however many instances, at most ``max_failures``
are ever tried: the others are refused as ``TwoFactorLocked`` until the first failure is 24
hours old. The caller's transaction rolls back on a wrong code, so
``counting_failures`` (what handlers.security.twofa.guarded runs) keeps the count: it runs the use
case in a savepoint and, on a wrong code, undoes only the use case and counts the failure again
outside it, in the same transaction, while holding the user's 2FA row (PostgreSQL). A use case
run by plain ``db.write`` is covered too: core.platform.db calls the error's ``keep`` after the rollback
(exact with one writer; across PostgreSQL instances a few extra codes may be tried at once).

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
    Integer,
    String,
    Table,
    bindparam,
    case,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import DomainError
from core.identity import totp
from core.platform import audit
from core.platform.params import define
from core.platform.schema import UTCDateTime, id_column, metadata, utcnow

twofa = Table(
    "twofa",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("secret", String(200), nullable=False, comment="SecretBox token, aad totp:<user_id>"),
    Column("enabled", Boolean, nullable=False),
    Column("last_step", BigInteger, nullable=True, comment="last accepted TOTP time step"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("enabled_at", UTCDateTime, nullable=True),
    Column(
        "failures", Integer, nullable=False, server_default="0", comment="wrong codes since failures_since"
    ),
    Column(
        "failures_since", UTCDateTime, nullable=True, comment="the first counted wrong code of the window"
    ),
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

define("twofa.max_failures", "10", "int", minimum=1, maximum=1000)
# A code already used is accepted again for the next protected action within this long of its
# time step (the authenticator shows it for 30 s; a second action at once need not wait for
# the next one). 0 turns it off: every code works once. Backup codes always work once.
define("twofa.session", "5m", "duration", minimum=0, maximum=3600)
WINDOW = timedelta(hours=24)


class TwoFactorRequired(DomainError):
    reason = "twofa_required"


class TwoFactorFailed(DomainError):
    """Wrong, malformed, expired or replayed code. Carries no code.

    ``counted``: (user id, max_failures, now) of the failure, which ``keep`` counts again
    once the use case that raised it has been undone (core.platform.db calls it).
    """

    reason = "twofa_wrong_code"
    counted: tuple[int, int, datetime] | None = None

    def keep(self, conn: Connection) -> None:
        if self.counted is not None:
            user_id, max_failures, now = self.counted
            conn.execute(_CLAIM, {"u": user_id, "cutoff": now - WINDOW, "max": max_failures, "now": now})


class TwoFactorReplayed(TwoFactorFailed):
    """A right code whose time step was used already, outside the session (or with it off):
    refused, but no guess. ``wait``: seconds until the authenticator shows the next code."""

    reason = "twofa_code_used"

    def __init__(self, wait: int) -> None:
        DomainError.__init__(self, self.reason, wait=wait)


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
# PostgreSQL: hold the user's 2FA row to the end of the transaction, so concurrent attempts
# of one user take turns (SQLite has one writer: nothing to lock, and nothing is rendered).
_HOLD_ROW = select(twofa.c.user_id).where(twofa.c.user_id == bindparam("u")).with_for_update()
_fresh_window = or_(twofa.c.failures_since.is_(None), twofa.c.failures_since <= bindparam("cutoff"))
# Count one failure and check the limit in one statement: no row comes back when the user
# already has ``max`` failures in the window. A window older than 24 hours starts again at 1.
_CLAIM = (
    update(twofa)
    .where(twofa.c.user_id == bindparam("u"), _fresh_window | (twofa.c.failures < bindparam("max")))
    .values(
        failures=case((_fresh_window, 1), else_=twofa.c.failures + 1),
        failures_since=case(
            (_fresh_window, bindparam("now", type_=UTCDateTime)), else_=twofa.c.failures_since
        ),
    )
    .returning(twofa.c.failures)
)
_REFUND = (
    update(twofa)
    .where(twofa.c.user_id == bindparam("u"), twofa.c.failures > 0)
    .values(
        failures=twofa.c.failures - 1,
        failures_since=case((twofa.c.failures == 1, None), else_=twofa.c.failures_since),
    )
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
    """Raise TwoFactorLocked if the user failed ``max_failures`` codes within 24 hours of the first."""
    now = now or utcnow()
    row = conn.execute(_ROW, {"u": user_id}).first()
    if row is not None and row.failures >= max_failures and row.failures_since > now - WINDOW:
        raise TwoFactorLocked(row.failures_since + WINDOW)


def _claim(conn: Connection, user_id: int, now: datetime, max_failures: int) -> None:
    """Count a code about to be checked as a failure; TwoFactorLocked when none is left."""
    if conn.execute(_CLAIM, {"u": user_id, "cutoff": now - WINDOW, "max": max_failures, "now": now}).first():
        return
    check_lock(conn, user_id, now, max_failures=max_failures)
    raise TwoFactorLocked(now + WINDOW)  # not reached: no row back means the user is locked


def _failed(user_id: int, now: datetime, max_failures: int) -> TwoFactorFailed:
    error = TwoFactorFailed()
    error.counted = (user_id, max_failures, now)
    return error


def record_failure(conn: Connection, user_id: int, now: datetime | None = None) -> None:
    """Count one failed code for a user with 2FA set up (the window rules of ``_claim``, no limit)."""
    now = now or utcnow()
    conn.execute(_CLAIM, {"u": user_id, "cutoff": now - WINDOW, "max": 2**31 - 1, "now": now})


@dataclass(frozen=True, slots=True)
class Refused:
    """What ``counting_failures`` returns for a wrong code; the caller raises ``error``."""

    error: TwoFactorFailed


def counting_failures(conn: Connection, user_id: int, fn, /, *args, **kwargs):
    """Run the use case ``fn(conn, *args, **kwargs)``; if it fails on a wrong 2FA code, undo it
    but keep the failure counted (and return ``Refused``), in this one transaction.

    Any other refusal undoes everything, the count included: the code was right (its count was
    given back) or never checked.
    """
    conn.execute(_HOLD_ROW, {"u": user_id})
    try:
        with conn.begin_nested():
            return fn(conn, *args, **kwargs)
    except TwoFactorFailed as error:
        error.keep(conn)
        return Refused(error)


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


def _check_totp(
    conn, row, user_id: int, code: str, secret_key: str, now: datetime, session: int = 0
) -> bool | None:
    """True: accepted (its step is used up now). False: wrong. None: a right code whose step
    was used already (a replay, or a second tap): refused, but no guess, so not a failure.

    ``session`` (seconds, the setting twofa.session): the code of this user's last used step is
    accepted again until ``session`` seconds after that step began. Only the user's own last
    step counts (each user has his own row and secret), and never a step before it.
    """
    secret = totp.SecretBox(secret_key).decrypt(row.secret, aad=f"totp:{user_id}")
    step = totp.match_step(secret, code, now.timestamp(), row.last_step)
    if step is None:
        if session > 0 and row.last_step is not None and in_session(row.last_step, now, session):
            if totp.matches_step(secret, code, row.last_step):
                return True
        return None if totp.match_step(secret, code, now.timestamp(), None) is not None else False
    return True if conn.execute(_CLAIM_STEP, {"u": user_id, "s": step}).rowcount == 1 else None


def in_session(step: int, now: datetime, session: int) -> bool:
    return now.timestamp() - step * totp.STEP_SECONDS <= session


def next_code_wait(now: datetime) -> int:
    """Seconds until the authenticator shows a new code."""
    return totp.STEP_SECONDS - int(now.timestamp()) % totp.STEP_SECONDS


def _settle_claim(conn, user_id: int, ok: bool | None, now: datetime, max_failures: int) -> None:
    """After a code was checked: give the claimed failure back unless the code was wrong."""
    if ok is False:
        raise _failed(user_id, now, max_failures)
    conn.execute(_REFUND, {"u": user_id})
    if ok is None:
        raise TwoFactorReplayed(next_code_wait(now))


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
    row = conn.execute(_ROW, {"u": user_id}).first()
    if row is None:
        check_lock(conn, user_id, now, max_failures=max_failures)
        raise TwoFactorState("twofa_not_started")
    if row.enabled:
        raise TwoFactorState("twofa_already_on")
    _claim(conn, user_id, now, max_failures)
    _settle_claim(conn, user_id, _check_totp(conn, row, user_id, code, secret_key, now), now, max_failures)
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
    session: int = 0,
) -> bool:
    """Check a code for a guarded action inside the action's transaction.

    Returns False when 2FA is off (nothing to check), True when a code was accepted.
    Raises TwoFactorRequired (no code given), TwoFactorLocked, or TwoFactorFailed
    (TwoFactorReplayed for a right code already used, outside ``session``: see _check_totp).
    """
    row = conn.execute(_ROW, {"u": user_id}).first()
    if row is None or not row.enabled:
        return False
    now = now or utcnow()
    if not code:
        check_lock(conn, user_id, now, max_failures=max_failures)
        raise TwoFactorRequired()
    _claim(conn, user_id, now, max_failures)
    if totp.normalise_code(code) is not None:
        ok = _check_totp(conn, row, user_id, code, secret_key, now, session)
    elif totp.normalise_backup_code(code) is not None:
        digest = totp.hash_backup_code(code, totp.backup_pepper(secret_key))
        ok = (
            conn.execute(_USE_BACKUP, {"u": user_id, "h": digest, "now": now}).rowcount == 1
        )  # unknown or used: wrong
    else:
        ok = False
    _settle_claim(conn, user_id, ok, now, max_failures)
    return True


def verify(
    conn: Connection,
    user_id: int,
    code: str,
    secret_key: str,
    now: datetime | None = None,
    *,
    max_failures: int,
    session: int = 0,
) -> bool:
    """A use case that only checks a code (True when accepted); for tests and admin prompts."""
    return require(conn, user_id, code, secret_key, now, max_failures=max_failures, session=session)


def tries_left(conn: Connection, user_id: int, *, max_failures: int, now: datetime | None = None) -> int:
    """How many more wrong codes ``user_id`` may send before 2FA actions lock for 24 hours."""
    now = now or utcnow()
    row = conn.execute(_ROW, {"u": user_id}).first()
    if row is None or row.failures_since is None or row.failures_since <= now - WINDOW:
        return max_failures
    return max(0, max_failures - row.failures)


def disable(
    conn: Connection,
    user_id: int,
    code: str | None,
    secret_key: str,
    now=None,
    *,
    max_failures: int,
    session: int = 0,
) -> None:
    """Turn 2FA off; needs a valid code. Backup codes are deleted with it."""
    if not is_enabled(conn, user_id):
        raise TwoFactorState("twofa_not_on")
    require(conn, user_id, code, secret_key, now, max_failures=max_failures, session=session)
    conn.execute(delete(twofa).where(twofa.c.user_id == user_id))
    conn.execute(delete(twofa_backup_codes).where(twofa_backup_codes.c.user_id == user_id))
    audit.record(conn, "twofa_off", actor=user_id, now=now)


def guarded_call(
    conn: Connection, user_id: int, code: str | None, secret_key: str, max_failures: int, fn, /, **kwargs
):
    """Check ``user_id``'s code (when 2FA is on), then run the use case ``fn`` in the same transaction."""
    require(conn, user_id, code, secret_key, max_failures=max_failures)
    return fn(conn, **kwargs)
