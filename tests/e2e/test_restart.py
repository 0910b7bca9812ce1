"""kill -9 the bot in the middle of its jobs and start it again: payouts and notices resume at
once, because the restarted bot holds the dead one's leases under the same name (its deployment
slot), instead of waiting minutes for them to expire."""

import asyncio
import re

import pytest

from core.platform import leases
from core.platform.schema import utcnow
from tests.conftest import repo_root
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.process import BotProcess

pytestmark = pytest.mark.timeout(150)
ADMIN, ALICE, BOB = 9001, 1001, 1002
ADDRESSES = {ALICE: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", BOB: "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"}


class StallingBotAPI(FakeBotAPI):
    """A Telegram that leaves chosen calls unanswered (``stall``), so a job is caught mid-run."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stall = lambda method, params: False
        self.released = asyncio.Event()

    async def _held(self, method, params):
        if self.stall(method, params):
            await self.released.wait()

    async def _api_sendMessage(self, p):
        await self._held("sendMessage", p)
        return await super()._api_sendMessage(p)

    async def _api_sendDocument(self, p):
        await self._held("sendDocument", p)
        return await super()._api_sendDocument(p)


async def say(api, user, text):
    await user.send(text)
    return (await api.wait_for("sendMessage", chat_id=user.id, timeout=20)).params.get("text", "")


async def withdraw(api, user):
    assert "Saved" in await say(api, user, f"/address BTC {ADDRESSES[user.id]}")
    assert "You will receive" in await say(api, user, "/withdraw 0.0009 BTC btc")
    await user.tap_button("Confirm")


def is_notice(params) -> bool:
    """A withdrawal notice (sent by the notify job), not the reply to the Confirm tap."""
    return re.match(r"Withdrawal #\d+ of ", params.get("text", "")) is not None


def stalled(api, method, chat_id):
    return [c for c in api.calls if c.method == method and c.chat_id == chat_id and c.status is None]


async def test_a_bot_killed_mid_job_resumes_payouts_and_notices_at_once(bot_env, db, tmp_path):
    env = {**bot_env, "PAYOUT_EVERY": "1s", "LOG_LEVEL": "INFO"}
    env.pop("INSTANCE_ID", None)  # the default: this deployment slot's name
    async with StallingBotAPI() as api:
        env.update(api.env())

        def bot(n):  # run from a folder of its own: on PostgreSQL the slot's lock lives in ./data
            return BotProcess(env, cwd=tmp_path, argv=(str(repo_root() / "bot.py"),), log_path=tmp_path / f"bot{n}.log")

        first = bot(1)
        try:
            await first.start(ready=api.ready_when("getUpdates"), timeout=60)
            admin, alice, bob = api.user(ADMIN, "Root"), api.user(ALICE, "Alice", username="alice"), api.user(BOB, "Bob", username="bob")
            for who, line in [(admin, "/start"), (alice, "/start"), (bob, "/start"), (admin, "/deposit 1 BTC x")]:
                await say(api, who, line)
            for name in ("alice", "bob"):
                assert "Credited" in await say(api, admin, f"/credit @{name} 0.01 BTC x")

            # Telegram stops answering the withdrawal notice to Alice and the payout CSV to the
            # admin: the notice sender and the payout job each wait in a call, holding their lease.
            api.stall = lambda method, p: (method, p.get("chat_id")) in {
                ("sendMessage", ALICE),
                ("sendDocument", ADMIN),
            } and (method == "sendDocument" or is_notice(p))
            await withdraw(api, alice)
            await api.wait_until(
                lambda: stalled(api, "sendDocument", ADMIN) and stalled(api, "sendMessage", ALICE), timeout=30
            )
            held = {lease.name: lease for lease in await db.read(leases.all_leases)}
            now = utcnow()
            assert held["payouts"].held(now) and held["notify"].held(now), held
            name = held["payouts"].holder
            assert held["notify"].holder == name

            assert await first.kill() == -9
        finally:
            await first.aclose()
        api.released.set()
        api.stall = lambda method, p: False

        second = bot(2)
        try:
            await second.start(ready=api.ready_when("getUpdates"), timeout=60)
            mark = api.mark()
            await withdraw(api, bob)
            # Well inside the dead instance's leases (30 s now; 120 s and 600 s before).
            notice = await api.wait_for(
                "sendMessage", chat_id=BOB, since=mark, timeout=12,
                predicate=lambda c: is_notice(c.params),
            )
            assert re.search(r"Withdrawal #\d+ of 0\.00089000 BTC", notice.params["text"])
            csv = await api.wait_for("sendDocument", chat_id=ADMIN, since=mark, timeout=12)
            assert ADDRESSES[BOB] in csv.params["document"].data.decode()
            after = {lease.name: lease.holder for lease in await db.read(leases.all_leases)}
            assert after["payouts"] == after["notify"] == after["crash"] == name  # the same slot
            assert "instance " + name in second.output()
            assert await second.stop() == 0
        finally:
            await second.aclose()
