"""Checks: money anyone with the link can claim, ``activations`` times ``amount`` each.

Creating a check moves the whole ``amount * activations`` from the creator to the check's
escrow sub-account ``check_escrow:<id>`` (key ``check:{id}:fund``), so it can no longer be
spent, and the escrow holds ``(activations - used) * amount`` while the check is open. (A
pending transfer would hold it too, but it can only be posted whole, and a check pays out
in pieces.) A claim, in one transaction: the claims row (one per check and user), then
``used = used + 1`` only while ``used < activations`` and the check is open (one conditional
UPDATE, so under any race exactly ``activations`` claims pass), then the transfer from the
escrow (key ``check:{id}:{user}``). Revoking or expiring closes the check with one
conditional UPDATE and returns what is left (key ``check:{id}:close``).

The link is ``t.me/<bot>?start=c<code>``: 16 random URL-safe characters (96 bits), never
derived from the id. A password is kept as a salted hash; wrong ones are counted per check
and user (``check.password_tries`` per ``check.password_window``) even though the claim
itself is undone. "New users only" admits users whose first /start came after the check
was made. "Members of @channel only" is checked by the handler (getChatMember) and
passed in as ``member``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Row, bindparam, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import DomainError
from core.identity import standing
from core.identity import users_table as users
from core.money import CHECK_ESCROW, Code, get_asset, ledger, user_account
from core.platform import Params, audit, define, notices, utcnow
from core.social.sends import check_amount
from core.social.tables import social_check_tries, social_checks, social_claims

define("check.max_activations", "1000", "int", minimum=1, maximum=100_000)
define("check.password_tries", "5", "int", minimum=1, maximum=1000)
define("check.password_window", "1h", "duration", minimum=60, maximum=30 * 86400)

CODE = Code.CHECK
CODE_RE = re.compile(r"[A-Za-z0-9_-]{16}", re.ASCII)
CHANNEL_RE = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}", re.ASCII)
MAX_PASSWORD = 64
EXPIRIES = (3600, 86400, 7 * 86400, 30 * 86400)  # what the expiry buttons offer, seconds


class CheckError(DomainError):
    """reasons: check_unknown, check_revoked, check_expired, check_exhausted, check_claimed,
    check_own, check_password_needed, check_locked, check_new_only, check_members_only,
    check_closed, check_too_many, check_bad_password, check_bad_channel, check_bad_expiry."""


class WrongPassword(CheckError):
    """A wrong password: the claim is undone, the failure is kept (core.platform.db calls ``keep``)."""

    reason = "check_wrong_password"

    def __init__(self, check_id: int, user_id: int, now: datetime, window: int) -> None:
        super().__init__()
        self.counted = (check_id, user_id, now, window)

    def keep(self, conn: Connection) -> None:
        check_id, user_id, now, window = self.counted
        _count_failure(conn, check_id, user_id, now, window)


@dataclass(frozen=True, slots=True)
class Policy:
    minimum: int  # send.min.<ASSET>: the least one activation may pay
    max_activations: int
    password_tries: int = 5
    password_window: int = 3600


def policy_for(params: Params, asset: str) -> Policy:
    return Policy(
        minimum=params.get(f"send.min.{asset}"),
        max_activations=params.get("check.max_activations"),
        password_tries=params.get("check.password_tries"),
        password_window=params.get("check.password_window"),
    )


def claim_policy(params: Params) -> Policy:
    """What claims need of the settings (no asset: the password limits are per check and user)."""
    return Policy(
        minimum=0,
        max_activations=0,
        password_tries=params.get("check.password_tries"),
        password_window=params.get("check.password_window"),
    )


@dataclass(frozen=True, slots=True)
class Check:
    id: int
    code: str
    creator_id: int
    asset: str
    amount: int
    activations: int
    used: int
    state: str  # open | revoked | expired
    has_password: bool
    new_users_only: bool
    channel: str | None
    expires_at: datetime | None
    created_at: datetime
    replayed: bool = False

    @property
    def left(self) -> int:
        """Minor units still held for claimants."""
        return (self.activations - self.used) * self.amount if self.state == "open" else 0

    @property
    def payload(self) -> str:
        return "c" + self.code


def _check(row: Row[Any], *, replayed: bool = False) -> Check:
    return Check(
        row.id,
        row.code,
        row.creator_id,
        row.asset,
        row.amount,
        row.activations,
        row.used,
        row.state,
        row.password is not None,
        row.new_users_only,
        row.channel,
        row.expires_at,
        row.created_at,
        replayed,
    )


def escrow(check_id: int) -> str:
    return f"{CHECK_ESCROW}:{check_id}"


def hash_password(code: str, password: str) -> str:
    """Salted by the check's own random code, compared in constant time."""
    return hashlib.sha256(f"{code}\0{password}".encode()).hexdigest()


def _insert(dialect: ModuleType) -> Any:
    return (
        dialect.insert(social_checks)
        .on_conflict_do_nothing(index_elements=[social_checks.c.inline_message_id])
        .returning(social_checks.c.id)
    )


_INSERT = {"sqlite": _insert(sqlite), "postgresql": _insert(postgresql)}
_BY_CODE = select(social_checks).where(social_checks.c.code == bindparam("code"))
_BY_ID = select(social_checks).where(social_checks.c.id == bindparam("i"))
_BY_INLINE = select(social_checks).where(social_checks.c.inline_message_id == bindparam("m"))


def create_check(
    conn: Connection,
    creator_id: int,
    asset: str,
    amount: int,
    activations: int,
    policy: Policy,
    *,
    password: str | None = None,
    inline_message_id: str | None = None,
    now: datetime | None = None,
) -> Check:
    """Make a check and move ``amount * activations`` into its escrow.

    From an inline result, ``inline_message_id`` makes it idempotent: the same message again
    returns the first check (``replayed``).
    """
    standing.require(conn, creator_id, standing.SEND)
    now = now or utcnow()
    asset = get_asset(asset).code
    if inline_message_id is not None:
        first = conn.execute(_BY_INLINE, {"m": inline_message_id}).first()
        if first is not None:
            return _check(first, replayed=True)
    if not 1 <= activations <= policy.max_activations:
        raise CheckError("check_too_many", maximum=policy.max_activations)
    if password is not None and not 1 <= len(password) <= MAX_PASSWORD:
        raise CheckError("check_bad_password", maximum=MAX_PASSWORD)
    if amount < policy.minimum:
        check_amount(conn, creator_id, asset, amount, policy.minimum)
    check_amount(conn, creator_id, asset, amount * activations, policy.minimum)
    code = secrets.token_urlsafe(12)
    new_id = conn.execute(
        _INSERT[conn.dialect.name],
        dict(
            code=code,
            creator_id=creator_id,
            asset=asset,
            amount=amount,
            activations=activations,
            used=0,
            state="open",
            password=hash_password(code, password) if password else None,
            new_users_only=False,
            inline_message_id=inline_message_id,
            created_at=now,
        ),
    ).scalar()
    if new_id is None:
        return _check(conn.execute(_BY_INLINE, {"m": inline_message_id}).one(), replayed=True)
    ledger.transfer(
        conn,
        debit=user_account(creator_id),
        credit=escrow(new_id),
        asset=asset,
        amount=amount * activations,
        code=CODE,
        key=f"check:{new_id}:fund",
        meta={"check": new_id},
        now=now,
    )
    return _check(conn.execute(_BY_ID, {"i": new_id}).one())


def _own_open(conn: Connection, creator_id: int, check_id: int, now: datetime) -> Row[Any]:
    row = conn.execute(_BY_ID, {"i": check_id}).first()
    if row is None or row.creator_id != creator_id:  # a forged button
        raise CheckError("check_unknown")
    if row.state != "open" or (row.expires_at is not None and row.expires_at <= now):
        raise CheckError("check_closed")
    return row


def configure(
    conn: Connection,
    creator_id: int,
    check_id: int,
    *,
    password: str | None = None,
    clear_password: bool = False,
    new_users_only: bool | None = None,
    channel: str | None = None,
    clear_channel: bool = False,
    expires_in: int | None = None,
    now: datetime | None = None,
) -> Check:
    """Change an open check's options (its creator only). ``expires_in``: seconds from now, 0 for never.

    ``channel`` must look like @name; that the bot is an admin there is the handler's check.
    """
    now = now or utcnow()
    row = _own_open(conn, creator_id, check_id, now)
    values: dict[str, object] = {}
    if password is not None:
        if not 1 <= len(password) <= MAX_PASSWORD or password.startswith("/"):
            raise CheckError("check_bad_password", maximum=MAX_PASSWORD)
        values["password"] = hash_password(row.code, password)
    if clear_password:
        values["password"] = None
    if new_users_only is not None:
        values["new_users_only"] = new_users_only
    if channel is not None:
        if CHANNEL_RE.fullmatch(channel) is None:
            raise CheckError("check_bad_channel")
        values["channel"] = channel
    if clear_channel:
        values["channel"] = None
    if expires_in is not None:
        if expires_in != 0 and expires_in not in EXPIRIES:
            raise CheckError("check_bad_expiry")
        values["expires_at"] = now + timedelta(seconds=expires_in) if expires_in else None
    if values:
        conn.execute(update(social_checks).where(social_checks.c.id == check_id).values(**values))
    return _check(conn.execute(_BY_ID, {"i": check_id}).one())


def find(conn: Connection, code: str) -> Check:
    """The check behind a link's code (any state); CheckError('check_unknown') when there is none."""
    row = conn.execute(_BY_CODE, {"code": code}).first() if CODE_RE.fullmatch(code or "") else None
    if row is None:
        raise CheckError("check_unknown")
    return _check(row)


def get_check(conn: Connection, creator_id: int, check_id: int) -> Check:
    row = conn.execute(_BY_ID, {"i": check_id}).first()
    if row is None or row.creator_id != creator_id:
        raise CheckError("check_unknown")
    return _check(row)


def by_inline_message(conn: Connection, inline_message_id: str) -> Check | None:
    row = conn.execute(_BY_INLINE, {"m": inline_message_id}).first()
    return _check(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class Claimed:
    check: Check
    amount: int
    creator_id: int


_CLAIMED = select(social_claims.c.user_id).where(
    social_claims.c.check_id == bindparam("c"), social_claims.c.user_id == bindparam("u")
)
_TRIES = select(social_check_tries.c.failures, social_check_tries.c.since).where(
    social_check_tries.c.check_id == bindparam("c"), social_check_tries.c.user_id == bindparam("u")
)
_STARTED = select(users.c.started_at).where(users.c.id == bindparam("u"))
_UNCLAIM = delete(social_claims).where(
    social_claims.c.check_id == bindparam("c"), social_claims.c.user_id == bindparam("u")
)
_TAKE = (
    update(social_checks)
    .where(
        social_checks.c.id == bindparam("i"),
        social_checks.c.state == "open",
        social_checks.c.used < social_checks.c.activations,
    )
    .values(used=social_checks.c.used + 1)
)


def _claim_insert(dialect: ModuleType) -> Any:
    return dialect.insert(social_claims).on_conflict_do_nothing(
        index_elements=[social_claims.c.check_id, social_claims.c.user_id]
    )


_CLAIM_INSERT = {"sqlite": _claim_insert(sqlite), "postgresql": _claim_insert(postgresql)}


def _count_failure(conn: Connection, check_id: int, user_id: int, now: datetime, window: int) -> None:
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[conn.dialect.name]
    ins = dialect.insert(social_check_tries).values(check_id=check_id, user_id=user_id, failures=1, since=now)
    stale = social_check_tries.c.since < bindparam("cutoff", value=now - timedelta(seconds=window))

    conn.execute(
        ins.on_conflict_do_update(
            index_elements=[social_check_tries.c.check_id, social_check_tries.c.user_id],
            set_={
                "failures": case((stale, 1), else_=social_check_tries.c.failures + 1),
                "since": case((stale, now), else_=social_check_tries.c.since),
            },
        )
    )


def _refuse_closed(row: Row[Any], now: datetime) -> None:
    if row.state == "revoked":
        raise CheckError("check_revoked")
    if row.state == "expired" or (row.expires_at is not None and row.expires_at <= now):
        raise CheckError("check_expired")
    if row.used >= row.activations:
        raise CheckError("check_exhausted")


def claim_check(
    conn: Connection,
    user_id: int,
    code: str,
    policy: Policy,
    *,
    password: str | None = None,
    member: bool | None = None,
    now: datetime | None = None,
) -> Claimed:
    """Pay one activation of the check ``code`` to ``user_id``: at most once per user, at most
    ``activations`` in all, never after a revoke or the expiry. Key ``check:{id}:{user}``."""
    standing.require(conn, user_id, standing.SEND)
    now = now or utcnow()
    row = conn.execute(_BY_CODE, {"code": code}).first() if CODE_RE.fullmatch(code or "") else None
    if row is None:
        raise CheckError("check_unknown")
    if conn.execute(_CLAIMED, {"c": row.id, "u": user_id}).first() is not None:
        raise CheckError("check_claimed")
    _refuse_closed(row, now)
    if row.creator_id == user_id:
        raise CheckError("check_own")
    if row.password is not None:
        tries = conn.execute(_TRIES, {"c": row.id, "u": user_id}).first()
        fresh = tries is not None and tries.since > now - timedelta(seconds=policy.password_window)
        if tries is not None and fresh and tries.failures >= policy.password_tries:
            raise CheckError("check_locked")
        if not password:
            raise CheckError("check_password_needed")
        if not hmac.compare_digest(hash_password(row.code, password[:MAX_PASSWORD]), row.password):
            raise WrongPassword(row.id, user_id, now, policy.password_window)
    if row.new_users_only:
        started = conn.execute(_STARTED, {"u": user_id}).scalar()
        if started is None or started < row.created_at:
            raise CheckError("check_new_only")
    if row.channel is not None and not member:
        raise CheckError("check_members_only", channel=row.channel)
    if (
        conn.execute(
            _CLAIM_INSERT[conn.dialect.name], dict(check_id=row.id, user_id=user_id, claimed_at=now)
        ).rowcount
        != 1
    ):
        raise CheckError("check_claimed")
    if conn.execute(_TAKE, {"i": row.id}).rowcount != 1:
        # Taken back here, so that a refusal never leaves a write behind (start_and_claim
        # goes on in the same transaction, without a savepoint).
        conn.execute(_UNCLAIM, {"c": row.id, "u": user_id})
        raise CheckError("check_exhausted")
    ledger.transfer(
        conn,
        debit=escrow(row.id),
        credit=user_account(user_id),
        asset=row.asset,
        amount=row.amount,
        code=CODE,
        key=f"check:{row.id}:{user_id}",
        meta={"check": row.id},
        now=now,
    )
    return Claimed(_check(row), row.amount, row.creator_id)


_CLOSE = (
    update(social_checks)
    .where(social_checks.c.id == bindparam("i"), social_checks.c.state == "open")
    .values(state=bindparam("to"), closed_at=bindparam("now"))
    .returning(social_checks.c.activations, social_checks.c.used, social_checks.c.amount)
)


def _close(conn: Connection, row: Row[Any], to: str, now: datetime) -> int:
    """Close an open check and return what is left to its creator; the amount returned."""
    got = conn.execute(_CLOSE, {"i": row.id, "to": to, "now": now}).first()
    if got is None:
        return -1
    left: int = (got.activations - got.used) * got.amount
    if left > 0:
        ledger.transfer(
            conn,
            debit=escrow(row.id),
            credit=user_account(row.creator_id),
            asset=row.asset,
            amount=left,
            code=CODE,
            key=f"check:{row.id}:close",
            meta={"check": row.id, "closed": to},
            now=now,
        )
    return left


def revoke_check(
    conn: Connection, creator_id: int, check_id: int, now: datetime | None = None
) -> tuple[Check, int]:
    """Close the creator's open check at once; returns it and the amount given back."""
    now = now or utcnow()
    row = conn.execute(_BY_ID, {"i": check_id}).first()
    if row is None or row.creator_id != creator_id:
        raise CheckError("check_unknown")
    if row.state != "open":
        raise CheckError("check_closed")
    left = _close(conn, row, "revoked", now)
    if left < 0:
        raise CheckError("check_closed")
    audit.record(conn, "check_revoked", actor=creator_id, target=f"check:{check_id}", now=now)
    return _check(conn.execute(_BY_ID, {"i": check_id}).one()), left


def list_checks(conn: Connection, creator_id: int, limit: int = 10) -> list[Check]:
    """The creator's latest checks, newest first."""
    rows = conn.execute(
        select(social_checks)
        .where(social_checks.c.creator_id == creator_id)
        .order_by(social_checks.c.id.desc())
        .limit(limit)
    )
    return [_check(r) for r in rows]


def expire_checks(conn: Connection, now: datetime | None = None, limit: int = 200) -> list[tuple[Check, int]]:
    """Close open checks past their expiry, returning what is left; the creator is told."""
    now = now or utcnow()
    rows = conn.execute(
        select(social_checks)
        .where(
            social_checks.c.state == "open",
            social_checks.c.expires_at.is_not(None),
            social_checks.c.expires_at <= now,
        )
        .order_by(social_checks.c.id)
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        left = _close(conn, row, "expired", now)
        if left < 0:
            continue
        if left > 0:
            notices.enqueue(
                conn,
                row.creator_id,
                "social_check_expired",
                {"id": row.id, "amount": left, "asset": row.asset},
                key=f"check:{row.id}:expired",
                now=now,
            )
        out.append((_check(conn.execute(_BY_ID, {"i": row.id}).one()), left))
    return out


# core.identity.users.record_start's statement, built once: a claim link is the hot path.
_FIRST_START = (
    update(users)
    .where(users.c.id == bindparam("u"), users.c.started_at.is_(None))
    .values(started_at=bindparam("now"), start_payload=bindparam("p"))
)


def record_start(conn: Connection, user_id: int, payload: str, now: datetime | None = None) -> bool:
    """A /start through a check link (``c<code>``), as core.identity.users.record_start records
    any: at the user's first start, the check's creator becomes their referrer, as through an
    invite link. True only the first time."""
    from core.earn import referrals

    now = now or utcnow()
    first = conn.execute(_FIRST_START, {"u": user_id, "now": now, "p": payload[:64]}).rowcount == 1
    if first and payload.startswith("c"):
        row = conn.execute(_BY_CODE, {"code": payload[1:]}).first()
        if row is not None:
            referrals.bind_referrer(conn, user_id, referrals.invite_code(row.creator_id), now)
    return first


def start_and_claim(
    conn: Connection, user_id: int, code: str, policy: Policy, now: datetime | None = None
) -> Claimed | CheckError:
    """/start c<code> in one transaction: ``record_start`` (kept whatever the claim does), then
    ``claim_check`` without a password or membership. A refusal is returned, not raised, so
    that the start (and the referral it binds) stays; ``claim_check`` writes nothing before
    it refuses, so no savepoint is needed."""
    record_start(conn, user_id, "c" + code, now)
    try:
        return claim_check(conn, user_id, code, policy, now=now)
    except CheckError as err:
        return err
