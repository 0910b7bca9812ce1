"""The notice outbox: keyed notices are batched; a batch can tell the latest news."""

from datetime import UTC, datetime, timedelta

from core.platform import notices

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def due(db, at):
    return await db.write(notices.claim_due, 10, now=at)


async def test_a_keyed_notice_is_queued_once(db):
    for amount in (1, 2):
        await db.write(notices.enqueue, 5, "text", {"text": f"+{amount}"}, key="k", now=T0)
    [n] = await due(db, T0)
    assert n.params == {"text": "+1"}


async def test_a_latest_notice_takes_the_newest_params_until_it_is_sent(db):
    for amount in (1, 2, 3):
        await db.write(notices.enqueue, 5, "text", {"text": f"+{amount}"}, key="k", now=T0, latest=True)
    [n] = await due(db, T0)
    assert n.params == {"text": "+3"}
    await db.write(notices.mark_done, [n.id], now=T0)
    await db.write(notices.enqueue, 5, "text", {"text": "+4"}, key="k", now=T0, latest=True)
    assert await due(db, T0 + timedelta(hours=1)) == []  # sent is sent: the batch is over
