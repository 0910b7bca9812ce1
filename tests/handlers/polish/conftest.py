from tests.fakes.bitcoin_node import btc_node  # noqa: F401
from tests.handlers.conftest import settings, tg  # noqa: F401
