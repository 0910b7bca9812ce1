"""bot.py's HTTP server end to end: what its log shows of API calls, malformed webhooks and
requests aiohttp refuses, with the server set up exactly as production runs it."""

import asyncio
import json

import aiohttp
import pytest

from core.earn import sites as faucet_sites
from core.identity.users import upsert_user

pytestmark = pytest.mark.timeout(120)
SECRET = "e2e_hook-secret"


async def test_log_never_shows_api_keys_and_refusals_are_json(fake_api, bot_process, bot_env, db):
    port = bot_env["WEB_PORT"]
    env = {**bot_env, "WEBHOOK_URL": f"http://127.0.0.1:{port}/tg/hook", "WEBHOOK_SECRET": SECRET}
    await db.write(upsert_user, id=77, username="owner77", first_name="O", language_code="en")
    site, key = await db.write(
        faucet_sites.add_site,
        owner_id=77,
        name="Drip",
        url="https://drip.example",
        asset="LTC",
        reward=5,
        timer=60,
    )
    proc = bot_process(env=env)
    await proc.start(ready=fake_api.ready_when("setWebhook"), timeout=60)
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/v1/getbalance?api_key={key}&currency=LTC") as r:
            assert (await r.json())["status"] == 200
        async with http.get(f"{base}/api/v1/getbalance?api_key={key}") as r:  # no currency: BTC
            refused = await r.json()
            assert refused["status"] == 410 and "LTC" in refused["message"]
        hook = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with http.post(f"{base}/tg/hook", data=b"[]", headers=hook) as r:
            assert r.status == 400
        async with http.post(f"{base}/tg/hook", data=b"{oops", headers=hook) as r:
            assert r.status == 400
    reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
    writer.write(f"F{{O /api/v1/send?api_key={key} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") or head.startswith(b"HTTP/1.0 400")
    assert json.loads(body)["status"] == 400
    assert await proc.stop() == 0
    log = proc.output()
    assert '"GET /api/v1/getbalance" 200' in log  # requests are still logged, by path
    assert key not in log and "currency=LTC" not in log
    assert log.count("webhook: body is") == 2 and "Traceback" not in log and " ERROR " not in log
