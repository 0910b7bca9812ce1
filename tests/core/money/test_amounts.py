"""Amounts typed by people: parsed exactly or refused with a reason; never rounded."""

import pytest

from core.errors import InvalidAmount, UnknownAsset
from core.money.amounts import format_amount, parse_amount
from core.money.assets import ASSETS, get_asset

BTC, USDT = ASSETS["BTC"], ASSETS["USDT"]


@pytest.mark.parametrize(
    ("text", "asset", "expected"),
    [
        ("0.1", BTC, 10_000_000),
        ("1", BTC, 100_000_000),
        ("1,5", BTC, 150_000_000),  # decimal comma, as es/pt/ru/id write it
        ("0.00000001", BTC, 1),
        (".5", BTC, 50_000_000),
        ("5.", BTC, 500_000_000),
        ("  2.50  ", USDT, 2_500_000),
        ("0.000001", USDT, 1),
        ("0.10000000000", BTC, 10_000_000),  # trailing zeros beyond the decimals are exact
        ("+3", USDT, 3_000_000),
        ("999999999999", USDT, 999_999_999_999_000_000),
    ],
)
def test_parses_exactly(text, asset, expected):
    assert parse_amount(text, asset) == expected


@pytest.mark.parametrize(
    ("text", "asset", "reason"),
    [
        ("", BTC, "empty"),
        ("   ", BTC, "empty"),
        ("-1", BTC, "negative"),
        ("-0.5", BTC, "negative"),
        ("0", BTC, "zero"),
        ("0.000", BTC, "zero"),
        ("NaN", BTC, "not_a_number"),
        ("nan", BTC, "not_a_number"),
        ("inf", BTC, "not_a_number"),
        ("Infinity", BTC, "not_a_number"),
        ("1e-8", BTC, "exponent"),
        ("1e309", BTC, "exponent"),
        ("1E5", BTC, "exponent"),
        ("0x10", BTC, "not_a_number"),
        ("١٢", BTC, "not_a_number"),  # Arabic-Indic digits: Decimal() would accept them
        ("１", BTC, "not_a_number"),  # full-width one
        ("0.000000001", BTC, "too_many_decimals"),
        ("0.0000001", USDT, "too_many_decimals"),
        ("1.2.3", BTC, "not_a_number"),
        ("1,000.5", BTC, "not_a_number"),
        ("abc", BTC, "not_a_number"),
        (".", BTC, "not_a_number"),
        ("1" * 41, BTC, "too_long"),
        ("1234567890123", BTC, "too_large"),
        ("999999999999.99999999", BTC, "too_large"),  # 12 digits, yet above the ledger's MAX_AMOUNT
    ],
)
def test_refuses_with_reason(text, asset, reason):
    with pytest.raises(InvalidAmount) as err:
        parse_amount(text, asset)
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("amount", "asset", "text"),
    [
        (1234, BTC, "0.00001234 BTC"),
        (100_000_000, BTC, "1.00000000 BTC"),
        (0, USDT, "0.000000 USDT"),
        (-1, USDT, "-0.000001 USDT"),
        (2_500_000, USDT, "2.500000 USDT"),
    ],
)
def test_formats_in_coin_units_with_ticker(amount, asset, text):
    assert format_amount(amount, asset) == text


def test_round_trip_for_every_asset():
    for asset in ASSETS.values():
        for amount in (1, 7, asset.unit, asset.unit * 3 + 1, 10**12 + 5):
            assert parse_amount(format_amount(amount, asset, ticker=False), asset) == amount


def test_asset_lookup_is_case_insensitive_and_strict():
    assert get_asset("btc").code == "BTC"
    with pytest.raises(UnknownAsset):
        get_asset("XRP")
