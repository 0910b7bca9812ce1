"""The swap settings: a spread per pair or the default, DUST's rate, and what /set refuses."""

from decimal import Decimal

import pytest

from core.errors import DomainError
from core.exchange.policy import SWAPPABLE, policy_for
from core.platform.params import REGISTRY, Params


def test_defaults():
    p = policy_for(Params(env={}))
    assert p.spread_bp == 100 and p.quote_ttl == 30 and p.max_slippage_bp == 100 and p.max_age == 300
    assert p.dust_rate is None and p.spread_for("BTC", "DOGE") == 100
    assert "RP" not in SWAPPABLE and set(SWAPPABLE) >= {"BTC", "LTC", "DOGE", "USDT", "TRX", "DUST"}


def test_a_pair_spread_beats_the_default_and_dust_rate_is_a_setting():
    p = policy_for(
        Params(env={"SWAP_SPREAD": "2%", "SWAP_SPREAD_BTC_DOGE": "0.5%", "SWAP_RATE_DUST": "0.0005"})
    )
    assert p.spread_for("BTC", "DOGE") == 50 and p.spread_for("DOGE", "BTC") == 200
    assert p.dust_rate == Decimal("0.0005")


@pytest.mark.parametrize(
    "key,value",
    [
        ("swap.spread.BTC.DOGE", "abc"),
        ("swap.spread.BTC.DOGE", "60%"),
        ("swap.spread", "51%"),
        ("swap.rate.DUST", "-1"),
        ("swap.rate.DUST", "1e-3"),
        ("swap.quote_ttl", "1s"),
        ("swap.min.BTC", "0.000000001"),
    ],
)
def test_set_refuses_bad_values(key, value):
    with pytest.raises(DomainError):
        REGISTRY[key].parse(value)
