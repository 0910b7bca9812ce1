"""Broadcasts: one message to a segment of users, sent at most once to each of them.

A broadcast is stored as a draft (HTML text, optional photo file_id, optional URL button), gets
a segment, and on ``start`` its recipients are materialised in ``broadcast_recipients`` (one
INSERT ... SELECT), so the audience is fixed at the moment the admin confirmed it.

Exactly-once to the user's eye: ``claim_next`` marks a recipient SENDING in the database
*before* the message goes out and, in the same transaction, records how the previous one ended.
A process killed mid-send leaves at most one SENDING row per sender; the next run turns them
IN_DOUBT (``settle_in_doubt``) and never sends to them again (it may have arrived), so nobody gets
the message twice. A 429 or a server error puts the
recipient back to PENDING (Telegram said it did not deliver), at most ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Select, String, and_, cast, false, func, insert, literal, select, update

from core.errors import DomainError
from core.identity import LANGUAGES
from core.identity import users_table as users
from core.loyalty import parse_levels
from core.money import ASSET_CODES, POINTS, STAKING
from core.money import accounts_table as accounts
from core.money import entries_table as entries
from core.ops.tables import broadcast_recipients, broadcasts
from core.platform import Params, audit, define, utcnow

define("broadcast.rate", "25", "int", minimum=1, maximum=30)  # messages a second, shared with notices

# Recipient states.
PENDING, SENDING, SENT, BLOCKED, FAILED, IN_DOUBT = 0, 1, 2, 3, 4, 5
MAX_ATTEMPTS = 3
DRAFT, RUNNING, PAUSED, CANCELLED, DONE = "draft", "running", "paused", "cancelled", "done"
MAX_ACTIVE_DAYS = 3650
MAX_LEVEL = 99
DUST = "DUST"  # the staked coin (core.loyalty.staking)


class BroadcastError(DomainError):
    reason = "broadcast"


@dataclass(frozen=True, slots=True)
class Segment:
    """Who gets a broadcast: ``everyone``, ``lang:xx``, ``active:N`` (seen within N days),
    ``coin:XXX`` (holders), ``level:N`` (loyalty level N by lifetime reward points, with the
    ``rp.levels`` thresholds in force) or ``staking:yes`` / ``staking:no`` (stakers of DUST)."""

    kind: str
    value: str = ""

    @classmethod
    def parse(cls, raw: str) -> Segment:
        kind, _, value = raw.partition(":")
        if kind == "everyone" and not value:
            return cls("everyone")
        if kind == "lang" and value in LANGUAGES:
            return cls(kind, value)
        if kind == "active" and value.isdigit() and 1 <= int(value) <= MAX_ACTIVE_DAYS:
            return cls(kind, str(int(value)))
        if kind == "coin" and value in ASSET_CODES:
            return cls(kind, value)
        if kind == "level" and value.isdigit() and int(value) <= MAX_LEVEL:
            return cls(kind, str(int(value)))
        if kind == "staking" and value in ("yes", "no"):
            return cls(kind, value)
        raise BroadcastError("bad_segment", segment=raw)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind

    def query(self, now: datetime, levels: tuple[int, ...] = ()) -> Select[tuple[int]]:
        """Ids of the segment's users; users who blocked the bot are never included.

        ``levels``: the lifetime points each level starts at (level 0 at 0), for ``level:N``; a
        level that does not exist is an empty segment."""
        q = select(users.c.id).where(users.c.is_blocked.is_(False))
        if self.kind == "lang":
            # Stored choice beats Telegram's code (User.locale); regional codes are matched by prefix.
            reported = _codes_for(self.value)  # mirrors supported_language ("in" is Indonesian)
            q = q.where(
                (users.c.language == self.value)
                | (users.c.language.is_(None) & func.lower(users.c.language_code).in_(reported))
                | (
                    users.c.language.is_(None)
                    & func.lower(func.substr(users.c.language_code, 1, 3)).in_([f"{c}-" for c in reported])
                )
            )
        elif self.kind == "active":
            q = q.where(users.c.seen_at >= now - timedelta(days=int(self.value)))
        elif self.kind == "coin":
            q = q.where(
                select(literal(1))
                .select_from(accounts)
                .where(
                    accounts.c.owner == literal("user:").concat(cast(users.c.id, String)),
                    accounts.c.asset == self.value,
                    accounts.c.balance > 0,
                )
                .exists()
            )
        elif self.kind == "level":
            n = int(self.value)
            if n >= len(levels):
                return q.where(false())
            lifetime = (
                select(func.coalesce(func.sum(entries.c.amount), 0))
                .where(
                    entries.c.owner == literal("user:").concat(cast(users.c.id, String)),
                    entries.c.asset == POINTS.code,
                    entries.c.amount > 0,
                )
                .scalar_subquery()
            )
            q = q.where(lifetime >= levels[n])
            if n + 1 < len(levels):
                q = q.where(lifetime < levels[n + 1])
        elif self.kind == "staking":
            staking = (
                select(literal(1))
                .select_from(accounts)
                .where(
                    accounts.c.owner == literal(f"{STAKING}:user:").concat(cast(users.c.id, String)),
                    accounts.c.asset == DUST,
                    accounts.c.balance - accounts.c.debits_pending > 0,
                )
                .exists()
            )
            q = q.where(staking if self.value == "yes" else ~staking)
        return q


def _codes_for(lang: str) -> list[str]:
    return [lang, "in"] if lang == "id" else [lang]


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    admin_id: int
    text: str
    photo: str | None
    button_text: str | None
    button_url: str | None
    segment: str | None
    state: str
    total: int
    progress_chat: int | None
    progress_message: int | None
    started_at: datetime | None


@dataclass(frozen=True, slots=True)
class Progress:
    state: str
    total: int
    sent: int
    blocked: int
    failed: int
    left: int


def create_draft(
    conn: Connection,
    admin_id: int,
    text: str,
    *,
    photo: str | None = None,
    button: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> int:
    """Store a draft (after its preview went through) and audit it; returns its id."""
    if not text.strip() and photo is None:
        raise BroadcastError("empty_broadcast")
    now = now or utcnow()
    bid = conn.execute(
        insert(broadcasts)
        .values(
            admin_id=admin_id,
            text=text,
            photo=photo,
            button_text=button[0] if button else None,
            button_url=button[1] if button else None,
            state=DRAFT,
            created_at=now,
        )
        .returning(broadcasts.c.id)
    ).scalar_one()
    audit.record(
        conn, "broadcast_draft", actor=admin_id, target=f"broadcast:{bid}", now=now, length=len(text)
    )
    return int(bid)


def get_broadcast(conn: Connection, broadcast_id: int) -> Broadcast:
    row = conn.execute(select(broadcasts).where(broadcasts.c.id == broadcast_id)).first()
    if row is None:
        raise BroadcastError("unknown_broadcast", id=broadcast_id)
    m = row._mapping
    return Broadcast(**{k: m[k] for k in Broadcast.__slots__})


def level_points(conn: Connection) -> tuple[int, ...]:
    """The lifetime points each loyalty level starts at, with ``rp.levels`` as in force now."""
    in_force = Params()
    in_force.load(conn)
    return tuple(lv.points for lv in parse_levels(str(in_force.get("rp.levels"))))


def _query(conn: Connection, segment: Segment, now: datetime) -> Select[tuple[int]]:
    return segment.query(now, level_points(conn) if segment.kind == "level" else ())


def count_segment(conn: Connection, segment: Segment, now: datetime | None = None) -> int:
    q = _query(conn, segment, now or utcnow()).subquery()
    return int(conn.execute(select(func.count()).select_from(q)).scalar_one())


def start(
    conn: Connection, broadcast_id: int, segment: Segment, *, admin_id: int, now: datetime | None = None
) -> int:
    """Fix the audience of a draft and set it running; returns the number of recipients.

    Only a draft starts (a second Confirm is refused); an empty segment is refused and changes nothing.
    """
    now = now or utcnow()
    b = get_broadcast(conn, broadcast_id)
    if b.state != DRAFT:
        raise BroadcastError("not_a_draft", id=broadcast_id)
    ids = _query(conn, segment, now).subquery()
    added = conn.execute(
        insert(broadcast_recipients).from_select(
            ["broadcast_id", "user_id"], select(literal(broadcast_id), ids.c.id)
        )
    ).rowcount
    if not added:
        raise BroadcastError("empty_segment", segment=str(segment))
    conn.execute(
        update(broadcasts)
        .where(broadcasts.c.id == broadcast_id, broadcasts.c.state == DRAFT)
        .values(state=RUNNING, segment=str(segment), total=added, started_at=now)
    )
    audit.record(
        conn, "broadcast_start", actor=admin_id, target=f"broadcast:{broadcast_id}", now=now,
        segment=str(segment), recipients=added,
    )  # fmt: skip
    return int(added)


_MOVES = {DRAFT: (), RUNNING: (PAUSED, CANCELLED), PAUSED: (RUNNING, CANCELLED)}


def set_state(
    conn: Connection, broadcast_id: int, state: str, *, admin_id: int, now: datetime | None = None
) -> Broadcast:
    """Pause, resume or cancel (audited); a move the broadcast's state does not allow is refused."""
    b = get_broadcast(conn, broadcast_id)
    if state not in _MOVES.get(b.state, ()):
        raise BroadcastError("bad_move", state=b.state)
    values: dict[str, object] = {"state": state}
    if state == CANCELLED:
        values["finished_at"] = now or utcnow()
    conn.execute(update(broadcasts).where(broadcasts.c.id == broadcast_id).values(**values))
    audit.record(conn, f"broadcast_{state}", actor=admin_id, target=f"broadcast:{broadcast_id}", now=now)
    return get_broadcast(conn, broadcast_id)


def set_progress_message(conn: Connection, broadcast_id: int, chat_id: int, message_id: int) -> None:
    conn.execute(
        update(broadcasts)
        .where(broadcasts.c.id == broadcast_id)
        .values(progress_chat=chat_id, progress_message=message_id)
    )


def runnable(conn: Connection) -> list[Broadcast]:
    """Running broadcasts, oldest first, plus paused and just finished ones whose progress is shown."""
    ids = conn.execute(
        select(broadcasts.c.id).where(broadcasts.c.state == RUNNING).order_by(broadcasts.c.id)
    ).scalars()
    return [get_broadcast(conn, i) for i in ids]


def claim_next(
    conn: Connection,
    broadcast_id: int,
    outcome: tuple[int, int] | None = None,
    *,
    now: datetime | None = None,
) -> int | None:
    """Record ``outcome`` (user_id, state) of the previous send, then claim the next recipient.

    ``state`` PENDING means "try again" (429, server error): it counts an attempt, and after
    ``MAX_ATTEMPTS`` the recipient is FAILED. BLOCKED also marks the user (``users.is_blocked``),
    so later broadcasts and stats leave them out. Returns the claimed user id, or None when the
    broadcast is no longer running or nobody is left (it is then DONE).
    """
    if outcome is not None:
        _record(conn, broadcast_id, *outcome)
    state = conn.execute(select(broadcasts.c.state).where(broadcasts.c.id == broadcast_id)).scalar()
    if state != RUNNING:
        return None
    for _try in range(5):  # a concurrent sender may take the same row first (PostgreSQL)
        user_id = conn.execute(
            select(broadcast_recipients.c.user_id)
            .where(
                broadcast_recipients.c.broadcast_id == broadcast_id, broadcast_recipients.c.state == PENDING
            )
            .order_by(broadcast_recipients.c.user_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar()
        if user_id is None:
            if not conn.execute(
                select(literal(1))
                .where(_recipient_of(broadcast_id), broadcast_recipients.c.state.in_((PENDING, SENDING)))
                .limit(1)
            ).first():
                conn.execute(
                    update(broadcasts)
                    .where(broadcasts.c.id == broadcast_id)
                    .values(state=DONE, finished_at=now or utcnow())
                )
            return None
        claimed = conn.execute(
            update(broadcast_recipients)
            .where(_recipient(broadcast_id, user_id), broadcast_recipients.c.state == PENDING)
            .values(state=SENDING, attempts=broadcast_recipients.c.attempts + 1)
        ).rowcount
        if claimed:
            return int(user_id)
    return None


def _recipient_of(broadcast_id: int):  # type: ignore[no-untyped-def]
    return broadcast_recipients.c.broadcast_id == broadcast_id


def _recipient(broadcast_id: int, user_id: int):  # type: ignore[no-untyped-def]
    return and_(
        broadcast_recipients.c.broadcast_id == broadcast_id, broadcast_recipients.c.user_id == user_id
    )


def _record(conn: Connection, broadcast_id: int, user_id: int, state: int) -> None:
    where = and_(_recipient(broadcast_id, user_id), broadcast_recipients.c.state == SENDING)
    if state == PENDING:
        conn.execute(
            update(broadcast_recipients)
            .where(where, broadcast_recipients.c.attempts < MAX_ATTEMPTS)
            .values(state=PENDING)
        )
        conn.execute(update(broadcast_recipients).where(where).values(state=FAILED))  # out of attempts
        return
    conn.execute(update(broadcast_recipients).where(where).values(state=state))
    if state == BLOCKED:
        mark_blocked(conn, user_id)


def settle_in_doubt(conn: Connection, broadcast_id: int) -> int:
    """Recipients claimed by a sender that died (SENDING at the start of a run) may have got the
    message: they become IN_DOUBT and are never sent to again. Call only under the job's lease,
    before any sender of this run claims."""
    return int(
        conn.execute(
            update(broadcast_recipients)
            .where(_recipient_of(broadcast_id), broadcast_recipients.c.state == SENDING)
            .values(state=IN_DOUBT)
        ).rowcount
    )


def mark_blocked(conn: Connection, user_id: int) -> None:
    """Telegram answered 403: the user blocked the bot. Left out of broadcasts and counted apart,
    until they write to the bot again (core.identity.users.upsert_user clears it)."""
    conn.execute(update(users).where(users.c.id == user_id).values(is_blocked=True))


def progress(conn: Connection, broadcast_id: int) -> Progress:
    b = get_broadcast(conn, broadcast_id)
    rows = conn.execute(
        select(broadcast_recipients.c.state, func.count())
        .where(broadcast_recipients.c.broadcast_id == broadcast_id)
        .group_by(broadcast_recipients.c.state)
    )
    counts: dict[int, int] = {int(state): int(n) for state, n in rows}
    return Progress(
        state=b.state,
        total=b.total,
        sent=counts.get(SENT, 0),
        blocked=counts.get(BLOCKED, 0),
        failed=counts.get(FAILED, 0) + counts.get(IN_DOUBT, 0),
        left=counts.get(PENDING, 0),
    )


def recipients(conn: Connection, broadcast_id: int) -> dict[int, int]:
    """user_id -> state, for tests and reports."""
    rows = conn.execute(
        select(broadcast_recipients.c.user_id, broadcast_recipients.c.state).where(
            broadcast_recipients.c.broadcast_id == broadcast_id
        )
    ).all()
    return {int(u): int(s) for u, s in rows}
