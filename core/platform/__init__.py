"""Platform: the database, the one ``metadata`` and its column helpers, runtime settings, the
audit log, leases and the notice outbox. Below every capability: it imports none of them.

Other capabilities import only what ``__all__`` lists (tests/test_imports.py holds them to it);
``audit``, ``leases``, ``notices`` and ``params`` are services used by their module name
(``audit.record(...)``, ``notices.enqueue(...)``).
"""

from core.platform import audit, leases, notices, params
from core.platform.db import DEFAULT_URL, Database, private_dir, private_sqlite_file
from core.platform.engines import PerEngine, insert_for, per_engine
from core.platform.params import REGISTRY, Param, Params, define
from core.platform.schema import UTCDateTime, id_column, metadata, utcnow

__all__ = [
    "DEFAULT_URL",
    "REGISTRY",
    "Database",
    "Param",
    "Params",
    "PerEngine",
    "UTCDateTime",
    "audit",
    "define",
    "id_column",
    "insert_for",
    "leases",
    "metadata",
    "notices",
    "params",
    "per_engine",
    "private_dir",
    "private_sqlite_file",
    "utcnow",
]
