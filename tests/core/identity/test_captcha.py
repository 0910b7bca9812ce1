"""core.identity.captcha on a real database, the picture it is drawn as, and the CAPTCHA_* settings."""

import asyncio
import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from core.config import ConfigError, load_settings
from core.identity import captcha, captcha_image

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def answer_of(db, challenge_id):
    t = captcha.challenges
    return await db.read(lambda c: c.execute(select(t.c.answer).where(t.c.id == challenge_id)).scalar())


async def test_one_answer_per_challenge_and_purposes_do_not_mix(db):
    ads = await db.write(captcha.new_challenge, 1, "ads", subject="campaign:7", now=T0)
    fau = await db.write(captcha.new_challenge, 1, "faucet", subject="BTC", now=T0)
    assert ads.target == ads.options[await answer_of(db, ads.id)] and len(set(ads.options)) == 6
    right = await answer_of(db, fau.id)
    with pytest.raises(captcha.CaptchaError) as err:  # an ads challenge is not a faucet challenge
        await db.write(captcha.answer, ads.id, 1, 0, purpose="faucet", ttl=600, now=T0)
    assert err.value.reason == "challenge_unknown"
    with pytest.raises(captcha.CaptchaError) as err:  # nor someone else's
        await db.write(captcha.answer, fau.id, 2, right, purpose="faucet", ttl=600, now=T0)
    assert err.value.reason == "challenge_unknown"
    got = await db.write(captcha.answer, fau.id, 1, right, purpose="faucet", ttl=600, now=T0)
    assert got and got.subject == "BTC"
    with pytest.raises(captcha.CaptchaError) as err:
        await db.write(captcha.answer, fau.id, 1, right, purpose="faucet", ttl=600, now=T0)
    assert err.value.reason == "challenge_used"
    # The ads challenge is still open: a new faucet one retired only faucet ones.
    ads_right = await answer_of(db, ads.id)
    assert await db.write(captcha.answer, ads.id, 1, ads_right, purpose="ads", ttl=600, now=T0)


async def test_wait_after_wrong_answer_expiry_and_retiring(db):
    ch = await db.write(captcha.new_challenge, 1, "ads", now=T0)
    newer = await db.write(captcha.new_challenge, 1, "ads", now=T0)
    with pytest.raises(captcha.CaptchaError) as err:
        await db.write(captcha.answer, ch.id, 1, 0, purpose="ads", ttl=600, now=T0)
    assert err.value.reason == "challenge_replaced"
    with pytest.raises(captcha.CaptchaError) as err:  # expired: refused, and stays unanswered
        await db.write(captcha.answer, newer.id, 1, 0, purpose="ads", ttl=60, now=T0 + timedelta(minutes=2))
    assert err.value.reason == "challenge_expired"
    wrong = (await answer_of(db, newer.id) + 1) % 6
    assert not await db.write(captcha.answer, newer.id, 1, wrong, purpose="ads", ttl=600, now=T0)
    with pytest.raises(captcha.CaptchaError) as err:
        await db.write(captcha.new_challenge, 1, "ads", retry_wait=5, now=T0 + timedelta(seconds=2))
    assert (err.value.reason, err.value.params["seconds"]) == ("captcha_wait", 3)
    await db.write(captcha.new_challenge, 1, "faucet", retry_wait=5, now=T0)  # another purpose: no wait
    await db.write(captcha.new_challenge, 1, "ads", retry_wait=5, now=T0 + timedelta(seconds=5))


async def test_provider_verdicts_take_each_token_once(db):
    ch = await db.write(captcha.new_challenge, 1, "faucet", subject="BTC", kind="turnstile", now=T0)
    assert ch.options == () and ch.target is None
    with pytest.raises(captcha.CaptchaError) as err:  # a button tap cannot answer it
        await db.write(captcha.answer, ch.id, 1, captcha.PASSED, purpose="faucet", ttl=600, now=T0)
    assert err.value.reason == "challenge_unknown"
    ok = await db.write(
        captcha.answer,
        ch.id,
        1,
        captcha.PASSED,
        purpose="faucet",
        ttl=600,
        kind="turnstile",
        token="t1",
        now=T0,
    )
    assert ok and await db.read(captcha.token_seen, "t1")
    again = await db.write(captcha.new_challenge, 1, "faucet", kind="turnstile", now=T0)
    with pytest.raises(captcha.CaptchaError) as err:
        await db.write(
            captcha.answer, again.id, 1, 1, purpose="faucet", ttl=600, kind="turnstile", token="t1", now=T0
        )
    assert err.value.reason == "token_used"


async def test_fifty_concurrent_answers_take_one(db):
    ch = await db.write(captcha.new_challenge, 1, "ads", now=T0)
    right = await answer_of(db, ch.id)
    outs = await asyncio.gather(
        *(db.write(captcha.answer, ch.id, 1, right, purpose="ads", ttl=600, now=T0) for _ in range(50)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, captcha.Answer) and o.right for o in outs) == 1
    assert all(isinstance(o, captcha.Answer) or o.reason == "challenge_used" for o in outs), outs


def test_the_picture_is_new_every_time_and_says_nothing_in_its_bytes():
    options = ("star", "moon", "heart", "cross", "ring", "arrow")
    pictures = [captcha_image.render(options, "heart") for _ in range(5)]
    assert len(set(pictures)) == 5  # same puzzle, five different pictures
    for png in pictures:
        img = Image.open(io.BytesIO(png))
        assert img.format == "PNG" and img.size == (captcha_image.WIDTH, captcha_image.HEIGHT)
        assert not img.info  # no text chunks
        assert b"heart" not in png
    with pytest.raises(ValueError):
        captcha_image.render(options, "square")
    for shape in captcha_image.SHAPES:  # every shape draws
        captcha_image.render((shape,), shape)


GOOD = {"BOT_TOKEN": "123456:ABC-def_123", "SECRET_KEY": "s" * 32}
PROVIDER = {
    **GOOD,
    "CAPTCHA_PROVIDER": "turnstile",
    "PUBLIC_URL": "https://bot.example.com",
    "CAPTCHA_SITE_KEY": "0x4AAA",
    "CAPTCHA_SECRET_KEY": "0x4AAA-secret",
}


def test_captcha_settings():
    s = load_settings(GOOD)
    assert s.captcha_provider == "buttons"
    s = load_settings(PROVIDER)
    assert s.captcha_verify_url == "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    assert s.captcha_secret_key == "0x4AAA-secret" and "0x4AAA-secret" not in repr(s)
    s = load_settings({**PROVIDER, "CAPTCHA_PROVIDER": "hcaptcha"})
    assert s.captcha_verify_url == "https://api.hcaptcha.com/siteverify"
    s = load_settings({**PROVIDER, "CAPTCHA_VERIFY_URL": "http://127.0.0.1:9/siteverify"})
    assert s.captcha_verify_url == "http://127.0.0.1:9/siteverify"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({**GOOD, "CAPTCHA_PROVIDER": "recaptcha"}, "CAPTCHA_PROVIDER"),
        ({**PROVIDER, "PUBLIC_URL": ""}, "PUBLIC_URL"),
        ({**PROVIDER, "PUBLIC_URL": "http://bot.example.com"}, "PUBLIC_URL"),
        ({**PROVIDER, "CAPTCHA_SITE_KEY": ""}, "CAPTCHA_SITE_KEY"),
        ({**PROVIDER, "CAPTCHA_SECRET_KEY": ""}, "CAPTCHA_SECRET_KEY"),
        ({**PROVIDER, "CAPTCHA_SECRET_KEY": "has space"}, "CAPTCHA_SECRET_KEY"),
        ({**PROVIDER, "CAPTCHA_VERIFY_URL": "siteverify"}, "CAPTCHA_VERIFY_URL"),
    ],
)
def test_bad_captcha_settings_name_themselves(env, name):
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert err.value.name == name


def test_migration_keeps_the_faucet_puzzles_and_their_ids(tmp_path):
    import sqlite3

    from core.platform.migrate import upgrade

    path = tmp_path / "old.db"
    upgrade(f"sqlite+aiosqlite:///{path}", "0006_lookup_indexes")
    with sqlite3.connect(path) as con:
        con.execute(
            "INSERT INTO faucet_challenges (id, user_id, asset, options, answer, created_at, answered_at, outcome)"
            " VALUES (41, 7, 'BTC', '[\"x\"]', 0, '2026-11-30 10:00:00', '2026-11-30 10:00:05', 'paid'),"
            " (42, 7, 'LTC', '[\"y\"]', 2, '2026-11-30 11:00:00', NULL, NULL)"
        )
    upgrade(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as con:
        rows = con.execute(
            "SELECT id, user_id, purpose, subject, kind, answer, outcome FROM captcha_challenges ORDER BY id"
        ).fetchall()
        assert rows == [
            (41, 7, "faucet", "BTC", "emoji", 0, "right"),
            (42, 7, "faucet", "LTC", "emoji", 2, None),
        ]
        assert con.execute("SELECT name FROM sqlite_master WHERE name = 'faucet_challenges'").fetchall() == []


def test_a_script_matching_the_frames_colour_does_no_better_than_chance():
    """Colour is the easy thing for a script to read off the picture: find the palette colour of
    the framed shape, tap the cell with that colour. Exactly one cell has it, and it is the right
    one no more often than any other."""
    palette = set(captcha_image.PALETTE)

    def dominant(img, box):
        counts = [(n, c) for n, c in img.crop(box).getcolors(1 << 16) if c in palette]
        return max(counts)[1]

    gx0, gy0, gx1, gy1 = captcha_image._GRID
    cw, ch = (gx1 - gx0) / 3, (gy1 - gy0) / 2
    cells = [
        tuple(
            map(
                int,
                (gx0 + (i % 3) * cw, gy0 + (i // 3) * ch, gx0 + (i % 3 + 1) * cw, gy0 + (i // 3 + 1) * ch),
            )
        )
        for i in range(6)
    ]
    rounds, hits = 240, 0
    for k in range(rounds):
        options = tuple(captcha._rng.sample(captcha_image.SHAPES, 6))
        right = k % 6
        img = Image.open(io.BytesIO(captcha_image.render(options, options[right]))).convert("RGB")
        frame = dominant(img, captcha_image._FRAME)
        matching = [i for i, box in enumerate(cells) if dominant(img, box) == frame]
        assert len(matching) == 1
        hits += matching[0] == right
    # Chance is 40 of 240 (sd 5.8). Far fewer would leak too: "never the cell with the frame's
    # colour" turns one in six into one in five. Outside 15..68 happens by luck < 1 in 50,000 runs.
    assert 15 <= hits <= 68, hits
