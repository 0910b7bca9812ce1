"""The notice sender: joins a chat's notices, keeps to the rate, survives 429 and restarts."""

from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import SendMessage

from core.identity import users
from core.platform import notices
from core.platform.params import Params
from jobs.notify import NoticeSender
from tests.handlers.harness import BOT_TOKEN, RecordingSession


class FlakySession(RecordingSession):
    """Answers 429 (retry after 3 s) to the first send, and 403 for chat 666."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    async def make_request(self, bot, method, timeout=None):
        if isinstance(method, SendMessage):
            self.calls += 1
            if self.calls == 1:
                raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=3)
            if method.chat_id == 666:
                raise TelegramForbiddenError(method=method, message="bot was blocked by the user")
        return await super().make_request(bot, method, timeout)


async def test_notices_are_joined_per_chat_translated_and_marked(db):
    await db.write(users.upsert_user, id=1, username="a", first_name="A", language_code="es")
    for i in range(3):
        await db.write(notices.enqueue, 1, "text", {"text": f"line {i}"})
    await db.write(notices.enqueue, 2, "unknown_template", {})
    await db.write(notices.enqueue, 2, "text", {"text": "<b>x</b>"}, key="once")
    await db.write(notices.enqueue, 2, "text", {"text": "dup"}, key="once")  # same key: ignored
    session = RecordingSession()
    slept = []

    async def sleep(s):
        slept.append(s)

    sender = NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={}), sleep=sleep)
    assert await sender.run_once() == 2
    sent = {s.chat_id: s.text for s in session.sent}
    assert sent[1] == "line 0\n\nline 1\n\nline 2"
    assert "&lt;b&gt;x&lt;/b&gt;" in sent[2] and "dup" not in sent[2]
    assert "You have a new notification." in sent[2]
    assert await db.read(notices.pending_count) == 0
    assert await sender.run_once() == 0  # nothing twice
    assert all(0 < s <= 1 / 25 for s in slept)  # paced at notify.rate


async def test_429_puts_notices_back_and_waits(db):
    await db.write(notices.enqueue, 5, "text", {"text": "hello"})
    await db.write(notices.enqueue, 666, "text", {"text": "blocked user"})
    session = FlakySession()
    waits = []

    async def sleep(s):
        waits.append(s)

    sender = NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={}), sleep=sleep)
    assert await sender.run_once() == 0
    assert waits == [3]
    assert await db.read(notices.pending_count) == 2  # nothing lost
    # after the wait (simulated by making them due again), delivery resumes
    from datetime import timedelta

    from core.platform.schema import utcnow

    later = utcnow() + timedelta(seconds=4)
    due = await db.write(notices.claim_due, 10, now=later)
    assert sorted(n.chat_id for n in due) == [5, 666]
    await db.write(notices.retry_later, [n.id for n in due], 0, now=utcnow() - timedelta(seconds=1))
    assert await sender.run_once() == 1
    assert [s.text for s in session.sent] == ["hello"]
    assert await db.read(notices.pending_count) == 0  # the blocked one is marked, not retried forever


class RetryAtChat(RecordingSession):
    """Answers 429 (retry after 3 s) to the first message for one chat."""

    def __init__(self, chat_id):
        super().__init__()
        self.chat_id, self.refused = chat_id, False

    async def make_request(self, bot, method, timeout=None):
        if isinstance(method, SendMessage) and method.chat_id == self.chat_id and not self.refused:
            self.refused = True
            raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=3)
        return await super().make_request(bot, method, timeout)


async def test_429_puts_back_the_chats_not_reached_yet_whatever_their_ids(db):
    from datetime import timedelta

    from core.platform.schema import utcnow

    for chat in (50, 90, 30):  # sent in this order: the oldest notice first
        await db.write(notices.enqueue, chat, "text", {"text": f"to {chat}"})
    session = RetryAtChat(90)

    async def sleep(_s):
        pass

    sender = NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={}), sleep=sleep)
    assert await sender.run_once() == 1
    assert [s.chat_id for s in session.sent] == [50]
    # Once the 3 s are over, both chats not reached yet are due again (not only those with a larger id).
    due = await db.write(notices.claim_due, 10, now=utcnow() + timedelta(seconds=4))
    assert sorted(n.chat_id for n in due) == [30, 90]


async def test_a_language_change_reaches_later_notices(db):
    import handlers.cashout.withdraw  # noqa: F401 - registers the withdrawal notice

    await db.write(users.upsert_user, id=1, username="a", first_name="A", language_code="es")
    state = {"id": 7, "state": "failed", "amount": 1000, "asset": "BTC", "reason": "rejected"}
    session = RecordingSession()
    clock = [1000.0]

    async def sleep(_s):
        pass

    sender = NoticeSender(
        db, Bot(BOT_TOKEN, session=session), Params(env={}), clock=lambda: clock[0], sleep=sleep
    )
    await db.write(notices.enqueue, 1, "withdrawal_state", state)
    await sender.run_once()
    assert "Motivo: un administrador lo rechazó" in session.sent[-1].text  # the reason, translated
    await db.write(users.set_language, 1, "en")
    clock[0] += 120
    await db.write(notices.enqueue, 1, "withdrawal_state", state)
    await sender.run_once()
    assert "Reason: an admin rejected it" in session.sent[-1].text


async def test_a_flood_of_site_notices_never_delays_a_withdrawal_notice(db):
    """Site-payment notices have their own, lower priority: 500 of them queued first, then one
    withdrawal notice; the withdrawal notice is the first message out, in the first round."""
    import handlers.cashout.withdraw  # noqa: F401
    import handlers.earn.sites  # noqa: F401 - registers how the notices read
    from core.earn import site_payees

    day = {"amount": 500, "asset": "BTC", "payments": 1, "sites": 1, "date": "2026-11-30"}
    await db.write(
        notices.enqueue_many,
        [(1000 + i, site_payees.NOTICE, day, f"flood:{i}") for i in range(500)],
        priority=notices.LOW,
    )
    state = {"id": 7, "state": "sent", "amount": 1000, "asset": "BTC", "txid": "ab" * 32}
    await db.write(notices.enqueue, 42, "withdrawal_state", state, key="withdrawal:7:sent")
    session = RecordingSession()

    async def sleep(_s):
        pass

    sender = NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={}), sleep=sleep)
    await sender.run_once()
    assert session.sent[0].chat_id == 42
    assert [s.chat_id for s in session.sent].count(42) == 1
