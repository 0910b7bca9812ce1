"""The arithmetic of a swap: rounding in the platform's favour by less than one minor unit."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.exchange.quotes import exact_out, moved_beyond, price_leg

# (amount in, from, to, USD from, USD to, spread bp, fee) -> (out, spread)
CASES = [
    (100_000_000, "BTC", "USDT", "60000", "1", 0, 0, 60_000_000_000, 0),  # 1 BTC -> 60000 USDT
    (100_000_000, "BTC", "USDT", "60000", "1", 100, 0, 59_400_000_000, 600_000_000),  # 1% spread
    (1, "BTC", "DOGE", "60000", "0.1", 0, 0, 600_000, 0),  # 1 sat = 0.006 DOGE
    (1, "DOGE", "BTC", "0.1", "60000", 0, 0, 0, 0),  # worth a fraction of a sat: nothing
    (1_000_000, "USDT", "TRX", "1", "0.3", 50, 1000, 3_316_666 - 1000, 3_333_333 - 3_316_666),
]


@pytest.mark.parametrize("amount,frm,to,pf,pt,spread,fee,out,spread_out", CASES)
def test_known_quotes(amount, frm, to, pf, pt, spread, fee, out, spread_out):
    leg = price_leg(amount, frm, to, Decimal(pf), Decimal(pt), spread, fee)
    assert (leg.amount_out, leg.spread, leg.fee) == (out, spread_out, fee)


prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("100000"), places=6, allow_nan=False)
coins = st.sampled_from(["BTC", "LTC", "DOGE", "USDT", "TRX", "DUST"])  # 8- and 6-decimal coins


@settings(max_examples=400, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=10**15),
    pair=st.tuples(coins, coins).filter(lambda p: p[0] != p[1]),
    p_from=prices,
    p_to=prices,
    spread=st.integers(min_value=0, max_value=5000),
    fee=st.integers(min_value=0, max_value=1000),
)
def test_user_gets_at_most_the_exact_amount_and_less_than_one_unit_below(
    amount, pair, p_from, p_to, spread, fee
):
    leg = price_leg(amount, pair[0], pair[1], p_from, p_to, spread, fee)
    exact = exact_out(amount, pair[0], pair[1], p_from, p_to, spread, fee)
    assert exact - 1 < leg.amount_out <= exact
    # the books balance: what liquidity pays is the whole-unit part of what it received
    gross = Fraction(amount) * Fraction(p_from) * 10 ** (6 if pair[1] in ("USDT", "TRX") else 8)
    gross /= Fraction(p_to) * 10 ** (6 if pair[0] in ("USDT", "TRX") else 8)
    assert leg.amount_out + leg.spread + leg.fee == gross.__floor__()
    assert leg.spread >= 0


def test_moved_beyond_is_symmetric_in_direction():
    assert not moved_beyond(Fraction(100), Fraction(101), 100)
    assert moved_beyond(Fraction(100), Fraction(10101, 100), 100)
    assert moved_beyond(Fraction(100), Fraction(9899, 100), 100)


def test_zero_or_negative_prices_are_refused():
    with pytest.raises(ValueError):
        price_leg(1, "BTC", "USDT", Decimal(0), Decimal(1), 0, 0)
    with pytest.raises(ValueError):
        price_leg(1, "BTC", "USDT", Decimal(1), Decimal(-1), 0, 0)
