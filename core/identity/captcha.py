"""A captcha for any feature that pays a person for being a person (faucet, ads, ...).

A challenge belongs to one user and one ``purpose`` (the feature asking, e.g.
``faucet``) and may name a ``subject`` (what a right answer unlocks, e.g. the coin).
Its answer is stored here and never leaves the server: the client only ever sends the
challenge id and an option. Rules every purpose gets:

- one open challenge per user and purpose: a new one retires the older ones, so nobody
  stacks puzzles to guess through them;
- one answer per challenge (a wrong one uses it up), and an expiry;
- after a wrong answer, the next challenge of that purpose waits ``retry_wait`` seconds.

Kinds (``CAPTCHA_PROVIDER``):
- ``buttons``: an image rendered server-side (core.identity.captcha_image) shows a shape in a
  frame and six numbered shapes; the buttons say only 1..6. ``shapes`` and ``answer``
  are what the image shows and which number is right.
- ``turnstile`` / ``hcaptcha``: a Telegram Mini App page runs the provider's widget;
  the server verifies its token with the provider (handlers.security.captcha_web) and answers
  the challenge with PASSED or FAILED. The token's hash is kept, so a token is taken once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Connection,
    bindparam,
    case,
    select,
    update,
)

from core.errors import DomainError
from core.identity.captcha_image import SHAPES
from core.identity.tables import challenges
from core.platform import utcnow

KINDS = ("buttons", "turnstile", "hcaptcha")
PROVIDERS = KINDS[1:]  # answered by a provider's verdict, not by a tapped option
OPTIONS = 6
PASSED, FAILED = 1, 0  # the "option" a provider's verdict answers with
_rng = secrets.SystemRandom()


class CaptchaError(DomainError):
    """reasons: captcha_wait, challenge_unknown, challenge_used, challenge_expired,
    challenge_replaced, token_used."""


@dataclass(frozen=True, slots=True)
class Challenge:
    id: int
    purpose: str
    subject: str
    kind: str
    options: tuple[str, ...]  # the shapes in the numbered cells (buttons); () for a provider
    target: str | None  # the shape in the frame: drawn in the image, never sent as text


@dataclass(frozen=True, slots=True)
class Answer:
    right: bool
    challenge_id: int
    subject: str

    def __bool__(self) -> bool:
        return self.right


@dataclass(frozen=True, slots=True)
class Open:
    """An open challenge as a provider page needs it (no answer in it)."""

    id: int
    user_id: int
    purpose: str
    subject: str
    kind: str
    created_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_LAST = (
    select(challenges.c.answered_at, challenges.c.outcome)
    .where(challenges.c.user_id == bindparam("u"), challenges.c.purpose == bindparam("p"))
    .order_by(challenges.c.id.desc())
    .limit(1)
)
_BY_ID = select(challenges).where(challenges.c.id == bindparam("i"))
_RETIRE = (
    update(challenges)
    .where(
        challenges.c.user_id == bindparam("u"),
        challenges.c.answered_at.is_(None),
        challenges.c.purpose == bindparam("p"),
    )
    .values(answered_at=bindparam("now"), outcome="replaced")
)
# Takes the challenge (one answer each) and records the outcome in one statement.
_TAKE = (
    update(challenges)
    .where(
        challenges.c.id == bindparam("i"),
        challenges.c.user_id == bindparam("u"),
        challenges.c.purpose == bindparam("p"),
        challenges.c.kind == bindparam("k"),
        challenges.c.answered_at.is_(None),
    )
    .values(
        answered_at=bindparam("now"),
        outcome=case((challenges.c.answer == bindparam("o"), "right"), else_="wrong"),
        token_hash=bindparam("t"),
    )
    .returning(challenges.c.subject, challenges.c.answer, challenges.c.created_at)
)
_TOKEN_SEEN = select(challenges.c.id).where(challenges.c.token_hash == bindparam("t"))


def wait_left(conn: Connection, user_id: int, purpose: str, retry_wait: int, now: datetime) -> int:
    """Seconds until ``user_id`` may have a new ``purpose`` challenge after a wrong answer (0: now)."""
    last = conn.execute(_LAST, {"u": user_id, "p": purpose}).first()
    if last is None or last.outcome != "wrong":
        return 0
    return max(0, retry_wait - int((now - last.answered_at).total_seconds()))


def new_challenge(
    conn: Connection,
    user_id: int,
    purpose: str,
    *,
    subject: str = "",
    kind: str = "buttons",
    retry_wait: int = 0,
    now: datetime | None = None,
) -> Challenge:
    """A fresh challenge; retires the user's open ones of the same purpose.

    Refuses (CaptchaError 'captcha_wait', with ``seconds``) within ``retry_wait`` seconds
    of a wrong answer to this purpose.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown captcha kind {kind!r}")
    now = now or utcnow()
    left = wait_left(conn, user_id, purpose, retry_wait, now)
    if left > 0:
        raise CaptchaError("captcha_wait", seconds=left)
    conn.execute(_RETIRE, {"u": user_id, "p": purpose, "now": now})
    if kind == "buttons":
        options = tuple(_rng.sample(SHAPES, OPTIONS))
        answer = _rng.randrange(OPTIONS)
        target = options[answer]
    else:
        options, answer, target = (), PASSED, None
    new_id = conn.execute(
        challenges.insert().returning(challenges.c.id),
        dict(
            user_id=user_id,
            purpose=purpose,
            subject=subject,
            kind=kind,
            options=json.dumps(options),
            answer=answer,
            created_at=now,
        ),
    ).scalar_one()
    return Challenge(new_id, purpose, subject, kind, options, target)


def answer(
    conn: Connection,
    challenge_id: int,
    user_id: int,
    option: int,
    *,
    purpose: str,
    ttl: int | Callable[[str], int],
    kind: str = "buttons",
    token: str | None = None,
    now: datetime | None = None,
) -> Answer:
    """Take one answer to a challenge of ``user_id`` for ``purpose``; True when it is right.

    ``ttl``: seconds a challenge stays answerable, or a function of its subject. ``kind``
    is the channel the answer came through: a button tap cannot answer a provider's
    challenge, nor a provider's verdict a button puzzle. ``token``: the provider token
    behind the verdict; each is taken once, across all challenges. Refusals (CaptchaError)
    change nothing: an unknown challenge or another user's, one answered or retired
    before, an expired one (it stays unanswered), a token seen before.
    """
    now = now or utcnow()
    digest = token_hash(token) if token is not None else None
    if digest is not None and conn.execute(_TOKEN_SEEN, {"t": digest}).first() is not None:
        raise CaptchaError("token_used")
    row = conn.execute(
        _TAKE,
        {"i": challenge_id, "u": user_id, "p": purpose, "k": kind, "o": option, "now": now, "t": digest},
    ).first()
    if row is None:
        mine = conn.execute(_BY_ID, {"i": challenge_id}).first()
        if mine is None or mine.user_id != user_id or mine.purpose != purpose or mine.kind != kind:
            raise CaptchaError("challenge_unknown")
        if mine.outcome == "replaced":
            raise CaptchaError("challenge_replaced")
        raise CaptchaError("challenge_used")  # answered before, or a concurrent answer won
    limit = ttl(row.subject) if callable(ttl) else ttl
    if (now - row.created_at).total_seconds() > limit:
        raise CaptchaError("challenge_expired")  # rolls back the take: the challenge stays unanswered
    return Answer(option == row.answer, challenge_id, row.subject)


def open_challenge(conn: Connection, challenge_id: int, user_id: int) -> Open:
    """The challenge a provider page is about to settle, while ``user_id`` may still answer it.

    Read-only; ``answer`` checks everything again (and the expiry) in the transaction that
    pays, so this only spares the provider questions about challenges that cannot pay.
    """
    row = conn.execute(_BY_ID, {"i": challenge_id}).first()
    if row is None or row.user_id != user_id:
        raise CaptchaError("challenge_unknown")
    if row.answered_at is not None:
        raise CaptchaError("challenge_replaced" if row.outcome == "replaced" else "challenge_used")
    return Open(row.id, row.user_id, row.purpose, row.subject, row.kind, row.created_at)


def token_seen(conn: Connection, token: str) -> bool:
    return conn.execute(_TOKEN_SEEN, {"t": token_hash(token)}).first() is not None
