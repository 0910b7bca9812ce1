"""Words (issue 12, item 16): /help's placeholders translated, one term for "faucet sites" per
language, no English left in /verify."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.handlers.harness import texts
from tests.play import setup_money

A = 131
LOCALES = Path(__file__).resolve().parents[3] / "locales"
OTHERS = ["es", "pt", "ru", "id"]

# The one word for "faucet site(s)" in each language, and the variants it replaced.
FAUCET_SITES = {
    "es": (r"sitios? de grifos", r"sitios? faucet|sitios? de grifo\b"),
    "pt": (r"sites? de torneira\b", r"sites? de faucet|torneiras"),
    "ru": (r"сайт[а-я]*-кран", r"фаусет"),
    "id": (r"situs faucet", r"situs keran"),
}
# English a reader of /verify would otherwise meet (words of formulas included).
ENGLISH = r"\b(Bet|Server seed|Client seed|Nonce|Floats?|float|floor|Roll|Result|Path|Slot|Multiplier|over|under|rows|risk|doubles|computed|when)\b"


async def render_verify(tg, db, language: str) -> str:
    await setup_money(db, {A: 10**8})
    p = tg.person(A, language_code=language)
    await p.send("/start")
    await p.send("/dice 0.0001 DOGE over 50.5")
    await p.send("/limbo 0.0001 DOGE 2")
    await p.send("/plinko 0.0001 DOGE 8 low")
    await p.send("/fair")
    await p.tap("fs:rotate")  # reveals the server seed: every step of /verify is shown
    out = []
    for n in (1, 2, 3):
        out.append(texts(await p.send(f"/verify {n}")))
    return "\n".join(out)


@pytest.mark.parametrize("language", OTHERS)
async def test_verify_has_no_english_left(tg, db, language):
    shown = await render_verify(tg, db, language)
    assert "HMAC 0" in shown  # (the name of the algorithm stays, as do hex strings)
    readable = re.sub(r"<code>.*?</code>", "", shown)
    assert not re.findall(ENGLISH, readable), readable


async def test_verify_in_english_still_says_it_all(tg, db):
    shown = await render_verify(tg, db, "en")
    assert "Roll = floor(float × 10001) / 100" in shown and "Floats:" in shown and "Nonce: 2" in shown


@pytest.mark.parametrize("language", OTHERS)
async def test_help_placeholders_are_translated(tg, db, language):
    p = tg.person(A, language_code=language)
    shown = texts(await p.send("/help"))
    assert "/dice" in shown and "over|under" in shown  # the command and its keywords are typed as is
    assert not re.findall(r"\b(AMOUNT|ASSET|TARGET|ROWS|RISK)\b", shown), shown


@pytest.mark.parametrize("language", OTHERS)
def test_one_term_for_faucet_sites(language):
    term, variants = FAUCET_SITES[language]
    checked = 0
    for po in sorted((LOCALES / language / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as f:
            for m in read_po(f):
                if not isinstance(m.id, str) or "faucet site" not in m.id.lower():
                    continue
                checked += 1
                text = str(m.string)
                assert re.search(term, text, re.I), (po.name, m.id, text)
                assert not re.search(variants, text, re.I), (po.name, m.id, text)
    assert checked >= 15
