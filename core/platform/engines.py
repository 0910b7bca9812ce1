"""Statements that differ between SQLite and PostgreSQL, in one place.

Both engines speak ``INSERT ... ON CONFLICT`` and ``RETURNING``, but SQLAlchemy builds them
from each dialect's own ``insert()``. Build a statement once per engine and pick it by the
connection:

    _ADD = per_engine(lambda insert: insert(table).on_conflict_do_nothing())
    conn.execute(_ADD.of(conn), rows)

or, for a statement built per call, ``insert_for(conn)(table)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")
# The engines the house runs on, and each one's INSERT with ON CONFLICT.
INSERTS: dict[str, Callable[[Table], Any]] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


class PerEngine(Generic[T]):
    """One value (a statement, or a dict of them) built for each engine, chosen by connection."""

    __slots__ = ("_by_engine",)

    def __init__(self, build: Callable[[Callable[[Table], Any]], T]) -> None:
        self._by_engine = {name: build(insert) for name, insert in INSERTS.items()}

    def of(self, conn: Connection) -> T:
        return self._by_engine[conn.dialect.name]


def per_engine(build: Callable[[Callable[[Table], Any]], T]) -> PerEngine[T]:
    """``build(insert)`` once for each engine; ``insert`` is that engine's ``insert()``."""
    return PerEngine(build)


def insert_for(conn: Connection) -> Callable[[Table], Any]:
    """The ``insert()`` of the connection's engine (it has ``on_conflict_do_...``)."""
    return INSERTS[conn.dialect.name]
