"""The HTTP server as it faces the internet: the production app served by HttpServer (what
bot.py runs) on a real loopback socket, driven with raw bytes where aiohttp's client would
refuse to send them."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import logging
import random
import re
import urllib.parse

import pytest
from aiogram import Bot

from core.earn import sites as faucet_sites
from core.money import ledger
from core.money.accounts import user_account
from core.platform.params import Params
from handlers.dispatcher import build_dispatcher
from handlers.http_server import HttpServer
from handlers.middlewares import Throttle
from handlers.web import build_web_app, resolve_client
from tests.handlers.earn.test_api import ADDR, ALICE, OWNER, make_site, make_user
from tests.handlers.harness import BOT_TOKEN, RecordingSession
from tests.money import available

SECRET = "hook_secret-1"
pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def serve(settings, db):
    """Factory: ``server = await serve(**settings_changes)``, the production app with a webhook."""
    servers: list[HttpServer] = []

    async def start(**changes) -> HttpServer:
        s = dataclasses.replace(
            settings, webhook_url="https://bot.example/tg/hook", webhook_secret=SECRET, **changes
        )
        dp = build_dispatcher(s, db, params=Params(env={}), throttle=Throttle(limit=100_000))
        dp["bot_username"] = "dustpan_test_bot"
        server = HttpServer(build_web_app(s, dp, Bot(BOT_TOKEN, session=RecordingSession()), db), s)
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


async def raw(port: int, data: bytes, timeout: float = 10.0) -> tuple[int | None, dict, bytes]:
    """Send raw bytes; read until the server closes. (status, headers, body); status None if
    the server closed without answering."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        got = await asyncio.wait_for(reader.read(), timeout)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    finally:
        writer.close()
    if not got:
        return None, {}, b""
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def request(method: str, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: bot.example", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


# --- 1. the access log ---------------------------------------------------------------------


async def test_access_log_shows_the_path_but_never_a_query_string_body_or_key(serve, db, caplog):
    site, key = await make_site(db)
    server = await serve()
    caplog.set_level(logging.DEBUG)
    try:
        status, _, body = await raw(
            server.port, request("GET", f"/api/v1/getbalance?api_key={key}&currency=BTC")
        )
        assert status == 200 and json.loads(body)["status"] == 200
        form = urllib.parse.urlencode({"api_key": key, "currency": "BTC"}).encode()
        ctype = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = await raw(server.port, request("POST", "/api/v1/getbalance", form, ctype))
        assert json.loads(body)["status"] == 200
        # A request line over 8 KB that carries the key is refused without quoting it anywhere.
        status, _, body = await raw(
            server.port, request("GET", f"/api/v1/send?api_key={key}&pad={'x' * 9000}")
        )
        assert status == 400 and json.loads(body)["status"] == 400
    finally:
        await server.stop()
    assert '"GET /api/v1/getbalance" 200' in caplog.text and '"POST /api/v1/getbalance" 200' in caplog.text
    assert key not in caplog.text and key[:12] not in caplog.text
    assert "currency=BTC" not in caplog.text and "Traceback" not in caplog.text


# --- 2. idle, half-open and slow connections -------------------------------------------------


async def test_hundreds_of_idle_and_half_open_connections_leave_healthz_answering(serve, caplog):
    server = await serve(http_max_connections=100, http_read_timeout=60, http_flood_log_interval=60)
    caplog.set_level(logging.INFO)
    socks = []
    try:
        for i in range(300):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            if i % 2:
                writer.write(
                    b"POST /api/v1/send HTTP/1.1\r\nConnection: close\r\nHost: x\r\nContent-Le"
                )  # half-open
            socks.append(writer)
        await asyncio.sleep(0.2)
        for _ in range(3):
            status, _, body = await raw(server.port, request("GET", "/healthz"), timeout=5)
            assert (status, json.loads(body)) == (200, {"ok": True})
        assert len(server.server.connections) <= 101  # the cap held: older idle ones were closed
    finally:
        for w in socks:
            w.close()
        await server.stop()
    floods = [r for r in caplog.records if "HTTP flood" in r.getMessage()]
    assert 1 <= len(floods) <= 2, [r.getMessage() for r in floods]  # not one line per connection
    assert "connections closed at the cap" in floods[0].getMessage()


async def test_slow_headers_and_slow_bodies_are_cut_after_the_read_timeout(serve, db, caplog):
    site, key = await make_site(db)
    await make_user(db)
    server = await serve(http_read_timeout=1, http_flood_log_interval=30)
    caplog.set_level(logging.INFO)
    slow = []
    try:
        for i in range(60):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            if i % 3 == 0:
                writer.write(
                    b"GET /healthz HTTP/1.1\r\nConnection: close\r\nHost: x\r\n"
                )  # headers never finish
            elif i % 3 == 1:
                body = urllib.parse.urlencode({"api_key": key, "to": ADDR, "amount": "10", "currency": "BTC"})
                head = "POST /api/v1/send HTTP/1.1\r\nConnection: close\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                writer.write(
                    f"{head}Content-Length: {len(body) + 50}\r\n\r\n{body}".encode()
                )  # body never ends
            slow.append((reader, writer))  # the rest send nothing at all
        started = asyncio.get_running_loop().time()
        closed = await asyncio.gather(*(asyncio.wait_for(r.read(), 10) for r, _ in slow))
        waited = asyncio.get_running_loop().time() - started
        assert all(c == b"" for c in closed)  # cut without an answer, not answered late
        assert waited < 9
        # Meanwhile a whole request on a fresh connection is answered.
        status, _, _ = await raw(server.port, request("GET", "/healthz"))
        assert status == 200
    finally:
        for _, w in slow:
            w.close()
        await server.stop()
    assert await available(db, user_account(ALICE)) == 0
    floods = [r.getMessage() for r in caplog.records if "HTTP flood" in r.getMessage()]
    cut = [int(re.search(r"(\d+) slow or idle requests cut", line).group(1)) for line in floods]
    assert 1 <= len(floods) <= 2 and sum(cut) == 60, floods  # the first at once, the rest summed up
    assert "Traceback" not in caplog.text and key not in caplog.text


# --- 3. the client address behind a proxy ---------------------------------------------------

_NET = __import__("ipaddress").ip_network


@pytest.mark.parametrize(
    "peer, forwarded, trusted, client",
    [
        ("127.0.0.1", ["203.0.113.5"], (), "127.0.0.1"),  # no TRUSTED_PROXIES: header ignored
        ("198.51.100.9", ["203.0.113.5"], ("127.0.0.1",), "198.51.100.9"),  # untrusted peer
        ("127.0.0.1", ["203.0.113.5"], ("127.0.0.1",), "203.0.113.5"),
        ("127.0.0.1", ["1.1.1.1, 203.0.113.5"], ("127.0.0.1",), "203.0.113.5"),  # rightmost untrusted
        ("127.0.0.1", ["203.0.113.5, 10.0.0.2"], ("127.0.0.1", "10.0.0.0/8"), "203.0.113.5"),
        ("127.0.0.1", ["1.1.1.1", "203.0.113.5"], ("127.0.0.1",), "203.0.113.5"),  # two headers
        ("127.0.0.1", [], ("127.0.0.1",), "127.0.0.1"),
        ("127.0.0.1", ["junk"], ("127.0.0.1",), "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.5, junk"], ("127.0.0.1",), "127.0.0.1"),
        ("::ffff:127.0.0.1", ["[2001:db8::1]:443"], ("127.0.0.1",), "2001:db8::1"),
        ("::1", ["10.0.0.3, 10.0.0.2"], ("::1", "10.0.0.0/8"), "10.0.0.3"),  # all trusted: leftmost
    ],
)
def test_client_address(peer, forwarded, trusted, client):
    assert resolve_client(peer, forwarded, tuple(_NET(t) for t in trusted)) == client


# --- 5. errors in FaucetPay's form, malformed webhooks, a fuzz ------------------------------

REFUSED_BY_AIOHTTP = [
    b"FOO /api/v1/getbalance HTTP/1.1\r\nConnection: close\r\nHost: x\r\n\r\n",
    b"GE{T /api/v1/getbalance HTTP/1.1\r\nConnection: close\r\nHost: x\r\n\r\n",
    b" /api/v1/getbalance HTTP/1.1\r\nConnection: close\r\nHost: x\r\n\r\n",
    b"GET /api/v1/{send} HTTP/1.1\r\nConnection: close\r\nHost: x\r\n\r\n",
    b"POST /api/v1/send HTTP/1.1\r\nConnection: close\r\nHost: x\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /api/v1/" + b"a" * 9000 + b" HTTP/1.1\r\nConnection: close\r\nHost: x\r\n\r\n",
    b"GET /api/v1/send HTTP/1.1\r\nConnection: close\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n",
    b"GET /api/v1/send HTTP/1.1\r\nConnection: close\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
]


@pytest.mark.parametrize("data", REFUSED_BY_AIOHTTP, ids=range(len(REFUSED_BY_AIOHTTP)))
async def test_requests_aiohttp_refuses_get_faucetpays_json(serve, caplog, data):
    server = await serve()
    caplog.set_level(logging.DEBUG)
    try:
        status, headers, body = await raw(server.port, data)
    finally:
        await server.stop()
    assert status is not None and status < 500
    assert headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert 400 <= answer["status"] < 500 and answer["message"]
    assert status in (200, answer["status"])  # our handler answers HTTP 200, the protocol layer 4xx
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "body, status",
    [(b"[]", 400), (b"{not json", 400), (b"\xff\xfe", 400), (b'"text"', 400), (b'{"update_id": "x"}', 200)],
)
async def test_a_malformed_webhook_is_refused_with_one_warning(serve, caplog, body, status):
    server = await serve()
    caplog.set_level(logging.DEBUG)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    try:
        got, _, _ = await raw(server.port, request("POST", "/tg/hook", body, headers))
    finally:
        await server.stop()
    assert got == status
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "webhook" in r.getMessage()]
    assert len(warnings) == 1 and not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)


def _fuzz_request(rng: random.Random, key: str) -> bytes:
    junk = ["", "{", "}", "{send}", "%7Bx%7D", "é", "..", "send/x", "a" * rng.randint(1, 300), "%00", "\x7f"]
    if rng.random() < 0.35:  # the webhook, usually with the right secret
        path = "/tg/hook"
        bodies = [
            b"[]",
            b"{",
            b"null",
            b'{"update_id": 5}',
            b'{"update_id": "x", "message": 1}',
            rng.randbytes(40),
        ]
        body = rng.choice(bodies)
        headers = {"Content-Type": "application/json"}
        if rng.random() < 0.8:
            headers["X-Telegram-Bot-Api-Secret-Token"] = SECRET
    else:
        name = rng.choice(
            ["send", "getbalance", "balance", "checkaddress", "payouts", "currencies", "faucetlist"] + junk
        )
        path = rng.choice(["/api/v1/", "/api/listv1/"]) + urllib.parse.quote(name, safe="{}%/")
        fields = {
            "api_key": rng.choice([key, "", "x" * 300, "wrong", key[:-1]]),
            "to": rng.choice([ADDR, "@alice", "", "nobody", "é" * 10]),
            "amount": rng.choice(["10", "-1", "1e9", "0", "99999999999999999999", "", "ab"]),
            "currency": rng.choice(["BTC", "btc", "LTC", "", "XYZ", "{", "é"]),
            "count": rng.choice(["1", "1000", "-1", "x"]),
            "idempotency_key": rng.choice(["k1", "bad key!", ""]),
        }
        fields = {k: v for k, v in fields.items() if rng.random() < 0.7}
        encoded = urllib.parse.urlencode(fields).encode()
        kind = rng.random()
        headers = {}
        if kind < 0.3:
            path += "?" + encoded.decode()
            body = b""
        elif kind < 0.6:
            body, headers["Content-Type"] = encoded, "application/x-www-form-urlencoded"
        elif kind < 0.75:
            b = "fz"
            parts = "".join(
                f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                for k, v in fields.items()
            )
            body = (parts + (f"--{b}--\r\n" if rng.random() < 0.7 else "")).encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={b}"
        elif kind < 0.85:
            body, headers["Content-Type"] = json.dumps(fields).encode(), "application/json"
        else:
            body, headers["Content-Type"] = (
                rng.randbytes(rng.randint(0, 200)),
                rng.choice(
                    [
                        "application/x-www-form-urlencoded",
                        "multipart/form-data",
                        "text/plain",
                        "multipart/form-data; boundary=x",
                    ]
                ),
            )
        if rng.random() < 0.1:
            headers["Content-Encoding"] = rng.choice(["br", "gzip", "deflate", "zstd", "junk"])
            if headers["Content-Encoding"] == "gzip" and rng.random() < 0.5:
                body = gzip.compress(body)
    method = rng.choice(["POST"] * 6 + ["GET"] * 3 + ["PUT", "DELETE", "HEAD", "OPTIONS", "FOO", "F{O", "}"])
    if rng.random() < 0.05:
        path += "/" + "p" * rng.randint(8000, 9000)
    data = request(method, path, body, headers)
    if rng.random() < 0.03:
        data = rng.randbytes(rng.randint(1, 100)) + b"\r\n\r\n"
    return data


async def test_fuzz_thousands_of_random_requests_no_5xx_no_traceback_no_money_moved(serve, db, caplog):
    site, key = await make_site(db, escrow=0)  # an empty escrow: even a valid send cannot pay
    await make_user(db)
    books = await db.read(ledger.check_invariants)
    server = await serve(http_read_timeout=2)
    caplog.set_level(logging.INFO)
    rng = random.Random(20261206)
    statuses: list[int | None] = []
    sem = asyncio.Semaphore(8)

    async def one(data: bytes) -> None:
        async with sem:
            status, headers, body = await raw(server.port, data)
            statuses.append(status)
            assert status is None or status < 500, (data[:200], status, body[:200])
            if (
                status is not None
                and data.split(b" ", 2)[1:2]
                and data.split(b" ", 2)[1].startswith(b"/api/")
            ):
                if data.split(b" ", 1)[0] != b"HEAD":
                    answer = json.loads(body)
                    assert answer["status"] < 500 and answer["message"], (data[:200], answer)
            elif (
                status is not None
                and status >= 400
                and headers.get("content-type", "").startswith("application/json")
            ):
                json.loads(body)

    try:
        await asyncio.gather(*(one(_fuzz_request(rng, key)) for _ in range(2500)))
    finally:
        await server.stop()
    answered = [s for s in statuses if s is not None]
    assert len(answered) > 2300  # a few cut for arriving incomplete, none answered with 5xx
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert key not in caplog.text
    assert await available(db, user_account(ALICE)) == 0
    assert await available(db, faucet_sites.escrow(site.id)) == 0
    assert await available(db, user_account(OWNER)) == 0
    assert books == []
