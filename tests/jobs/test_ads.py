"""The join-hold job, called directly: still a member -> paid; left -> voided; unknown -> held."""

from datetime import timedelta

from sqlalchemy import select, update

from core.earn.tables import ad_views
from core.money.accounts import user_account
from core.platform.params import Params
from core.platform.schema import utcnow
from jobs.ads import settle_joins
from tests.core.earn.ads_world import S, campaign, claim, person
from tests.money import available

STAYS, LEAVES, UNKNOWN = 601, 602, 603


async def test_settle_joins_pays_members_voids_leavers_and_waits_when_telegram_cannot_say(db):
    cid = await campaign(db, 500, kind="join", views=5)
    for u in (STAYS, LEAVES, UNKNOWN):
        await person(db, u)
        await claim(db, u, cid, member=True)
    asked = []

    async def is_member(channel, user_id):
        asked.append((channel, user_id))
        return {STAYS: True, LEAVES: False}.get(user_id)

    params = Params(env={})
    assert await settle_joins(db, params, is_member) == {"paid": 0, "void": 0, "later": 0}  # not due yet
    await db.write(lambda c: c.execute(update(ad_views).values(held_until=utcnow() - timedelta(seconds=1))))
    assert await settle_joins(db, params, is_member) == {"paid": 1, "void": 1, "later": 1}
    assert ("@dustchan", STAYS) in asked
    assert await available(db, user_account(STAYS)) == 100
    assert await available(db, user_account(LEAVES)) == 0
    statuses = await db.read(lambda c: dict(c.execute(select(ad_views.c.user_id, ad_views.c.status)).all()))
    assert statuses == {STAYS: "paid", LEAVES: "void", UNKNOWN: "held"}
    assert await settle_joins(db, params, is_member) == {"paid": 0, "void": 0, "later": 1}  # settled once
    assert S.join_hold == 3 * 86400  # the default hold the claims used
