"""Finding users the way admins and the faucet API name them."""

import asyncio
import sqlite3

import pytest
from sqlalchemy import func, select

from core.errors import UnknownUser
from core.identity.users import find_user, id_by_username, upsert_user
from core.platform.db import Database
from core.platform.schema import users


async def test_find_user_by_id_or_username_any_case(db):
    await db.write(upsert_user, id=42, username="Alice_B", first_name="A", language_code="en")
    assert (await db.read(find_user, "42")).id == 42
    assert (await db.read(find_user, "@alice_b")).id == 42
    assert (await db.read(find_user, "ALICE_B")).id == 42
    assert await db.read(id_by_username, "alice_b") == 42


@pytest.mark.parametrize(
    "ref", ["", "@", "43", "@bob", "9223372036854775808", "99999999999999999999", "@" + "a" * 65]
)
async def test_unknown_or_impossible_references_are_unknown_users(db, ref):
    await db.write(upsert_user, id=42, username="alice", first_name="A", language_code="en")
    with pytest.raises(UnknownUser):
        await db.read(find_user, ref)


async def test_a_username_taken_over_belongs_to_its_new_holder_only(db):
    """Alice gives up @alice (or changes it) and Bob takes it: whoever was seen with it last holds
    it, and the old holder's row no longer names it."""
    await db.write(upsert_user, id=1, username="alice", first_name="A", language_code="en")
    await db.write(upsert_user, id=2, username="Alice", first_name="B", language_code="en")
    assert await db.read(id_by_username, "alice") == 2
    assert (await db.read(find_user, "@ALICE")).id == 2
    assert (await db.read(find_user, "1")).username is None
    await db.write(upsert_user, id=2, username="bob", first_name="B", language_code="en")  # Bob moves on
    with pytest.raises(UnknownUser):
        await db.read(find_user, "@alice")  # nobody was seen with it since
    await db.write(upsert_user, id=1, username="alice", first_name="A", language_code="en")
    assert await db.read(id_by_username, "alice") == 1 and await db.read(id_by_username, "bob") == 2


async def test_concurrent_claims_of_one_username_leave_it_with_one_user(db, database_url):
    """Twenty users seen with the same username at once, through two instances: every update is
    recorded, and one row, the last written, holds the name."""
    other = Database(database_url)
    await other.start()
    try:
        rows = await asyncio.gather(
            *(
                (db if i % 2 else other).write(
                    upsert_user, id=100 + i, username="Shared", first_name=str(i), language_code="en"
                )
                for i in range(20)
            )
        )
    finally:
        await other.close()
    assert sorted(r.id for r in rows) == list(range(100, 120))

    def holders(conn):
        return conn.execute(select(users.c.id).where(func.lower(users.c.username) == "shared")).scalars().all()

    held = await db.read(holders)
    assert len(held) == 1 and await db.read(id_by_username, "shared") == held[0]


def test_the_migration_gives_a_shared_username_to_the_user_seen_last(tmp_path):
    """Databases from before the unique index may hold a username on several rows."""
    from core.platform.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    upgrade(url, "0006_lookup_indexes")
    path = str(tmp_path / "old.db")
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO users (id, username, first_name, created_at, seen_at, is_blocked)"
            " VALUES (?, ?, '', '2026-01-01 00:00:00.000000', ?, 0)",
            [
                (1, "alice", "2026-01-01 00:00:00.000000"),
                (2, "ALICE", "2026-03-01 00:00:00.000000"),  # seen last: keeps it
                (3, "Alice", "2026-02-01 00:00:00.000000"),
                (4, "bob", "2026-01-01 00:00:00.000000"),
            ],
        )
    upgrade(url)
    with sqlite3.connect(path) as conn:
        got = dict(conn.execute("SELECT id, username FROM users ORDER BY id").fetchall())
        assert got == {1: None, 2: "ALICE", 3: None, 4: "bob"}
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE users SET username = 'Bob' WHERE id = 1")
