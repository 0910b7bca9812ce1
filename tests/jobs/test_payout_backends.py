"""Which payout backend a name selects: a name nobody knows selects none, never a fallback."""

import pytest

from jobs.payout_backends import CryptoPayBackend, ManualBackend, RpcBackend, from_env

ENV = {"RPC_URL_BTC": "http://u:p@127.0.0.1:1/", "CRYPTOPAY_TOKEN": "t"}


@pytest.mark.parametrize(
    ("name", "kind"),
    [("manual", ManualBackend), ("rpc", RpcBackend), ("cryptopay", CryptoPayBackend)],
)
def test_known_names(name, kind):
    assert isinstance(from_env(name, "BTC", env=ENV, secret_key="k" * 40), kind)


@pytest.mark.parametrize("name", ["manul", "Manual", "crypto_pay", ""])
def test_an_unknown_name_selects_no_backend(name):
    assert from_env(name, "BTC", env=ENV) is None


def test_a_configured_backend_without_its_credentials_is_none():
    assert from_env("rpc", "LTC", env=ENV) is None and from_env("cryptopay", "BTC", env={}) is None
    assert from_env("cryptopay", "BTC", env=ENV) is None  # no SECRET_KEY: no spend ids of its own
