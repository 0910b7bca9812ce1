"""Fixtures for the jobs tests: fake Bitcoin nodes (a block source, a wallet) and the real dispatcher (tests.handlers)."""

from tests.fakes.bitcoin_node import btc_node  # noqa: F401
from tests.fakes.payouts import node  # noqa: F401  (a fake Bitcoin Core wallet node)
from tests.handlers.conftest import settings, tg  # noqa: F401
