"""Shared handler helpers: argument splitting, row ids, waiting times and percentages."""

from __future__ import annotations

import pytest
from aiogram.filters import CommandObject

from handlers.common.args import args_of, row_id, words
from handlers.common.formatting import percent, wait_text
from handlers.common.i18n import get_i18n
from handlers.common.menu import MAX_ID


def cmd(args: str | None) -> CommandObject:
    return CommandObject(prefix="/", command="x", args=args)


@pytest.mark.parametrize(
    ("args", "count", "note", "expected"),
    [
        ("1 BTC cold wallet top-up", 3, True, ["1", "BTC", "cold wallet top-up"]),
        ("1 BTC", 3, True, ["1", "BTC", ""]),  # the note may be left out
        ("1 BTC", 3, False, None),
        ("1", 3, True, None),
        (None, 2, False, None),
        ("faucet.reward.BTC   0.000002", 2, False, ["faucet.reward.BTC", "0.000002"]),
        ("@bob 1 BTC thanks for the report", 4, True, ["@bob", "1", "BTC", "thanks for the report"]),
    ],
)
def test_args_of(args, count, note, expected):
    assert args_of(cmd(args), count, note=note) == expected


def test_words():
    assert words(cmd(None)) == []
    assert words(cmd("  0.1  BTC\tauto 2 ")) == ["0.1", "BTC", "auto", "2"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        (" #12 ", 12),
        (str(MAX_ID - 1), MAX_ID - 1),
        (str(MAX_ID), None),  # past what a BIGINT row id may be: never reaches the database
        ("9" * 40, None),
        ("0", None),
        ("-3", None),
        ("１２", None),  # full-width digits are digits to Python, not to us
        ("12a", None),
        ("", None),
        (None, None),
    ],
)
def test_row_id(text, expected):
    assert row_id(text) == expected


@pytest.mark.parametrize(
    ("seconds", "en", "ru"),
    [
        (0, "1 s", "1 с"),
        (45, "45 s", "45 с"),
        (60, "1 min", "1 мин"),
        (61, "2 min", "2 мин"),  # rounded up: never "next claim in 1 min" when it is 2
        (23 * 60, "23 min", "23 мин"),
        (3600, "1 h", "1 ч"),  # not "1 h 0 min" (issue 12, item 18)
        (86400, "24 h", "24 ч"),
        (90 * 60 + 1, "1 h 31 min", "1 ч 31 мин"),
    ],
)
def test_wait_text(seconds, en, ru):
    i18n = get_i18n()
    with i18n.context():
        with i18n.use_locale("en"):
            assert wait_text(seconds) == en
        with i18n.use_locale("ru"):
            assert wait_text(seconds) == ru


@pytest.mark.parametrize(
    ("bp", "text"), [(9800, "98"), (1050, "10.5"), (1, "0.01"), (5, "0.05"), (0, "0"), (10000, "100")]
)
def test_percent(bp, text):
    assert percent(bp) == text
