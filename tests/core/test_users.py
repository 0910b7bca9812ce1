"""Finding users the way admins and the faucet API name them."""

import pytest

from core.errors import UnknownUser
from core.users import find_user, id_by_username, upsert_user


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
