"""jobs.social: expired checks give back what is left; unclaimed tips return to their senders."""

from datetime import timedelta

from sqlalchemy import update

from core.identity.users import record_start, upsert_user
from core.money.accounts import user_account
from core.platform.params import Params
from core.platform.schema import utcnow
from core.social import checks, sends, tips
from core.social.tables import social_checks, social_tips
from jobs import social
from tests.money import available, fund

ALICE, BOB = 401, 402


async def test_job_closes_expired_checks_and_returns_old_tips(db):
    await db.write(upsert_user, id=ALICE, username="alice", first_name="Alice", language_code="en")
    await db.write(record_start, ALICE, None)
    await fund(db, user_account(ALICE), 1_000_000, "DOGE", key="a")
    policy = checks.Policy(minimum=1, max_activations=10)
    c = await db.write(checks.create_check, ALICE, "DOGE", 1000, 5, policy)
    await db.write(checks.configure, ALICE, c.id, expires_in=3600)
    keep = await db.write(checks.create_check, ALICE, "DOGE", 1000, 1, policy)
    t = await db.write(tips.tip, ALICE, BOB, -5, 1, "DOGE", 2000, sends.Policy(minimum=1, twofa_over=10**9))
    assert await social.run(db, Params(env={})) == (0, 0)  # nothing is due yet
    past = utcnow() - timedelta(days=8)
    await db.write(
        lambda conn: conn.execute(
            update(social_checks).where(social_checks.c.id == c.id).values(expires_at=past)
        )
    )
    await db.write(
        lambda conn: conn.execute(update(social_tips).where(social_tips.c.id == t.id).values(created_at=past))
    )
    assert await social.run(db, Params(env={})) == (1, 1)
    assert await social.run(db, Params(env={})) == (0, 0)  # once
    assert await available(db, user_account(ALICE), "DOGE") == 1_000_000 - 1000  # only the open check holds
    assert (await db.read(checks.get_check, ALICE, keep.id)).state == "open"
    assert (await db.read(checks.get_check, ALICE, c.id)).state == "expired"
