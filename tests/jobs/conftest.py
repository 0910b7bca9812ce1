"""Fixtures for the games tests: a fake Bitcoin node, and the real dispatcher (tests.handlers)."""

from tests.fakes.bitcoin_node import btc_node  # noqa: F401
from tests.handlers.conftest import settings, tg  # noqa: F401
