"""Callback data of the games' buttons: prefixes no other feature uses, so a tap is offered only
to the router that owns it (handlers.routing indexes routers by prefix)."""

from __future__ import annotations

from collections import defaultdict

from aiogram.filters.callback_data import CallbackData

from handlers import get_routers


def _all_callback_data() -> list[type[CallbackData]]:
    get_routers()  # imports every chat feature
    found, todo = [], list(CallbackData.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("handlers."):
            found.append(cls)
    return found


def test_every_callback_prefix_belongs_to_one_class():
    owners: dict[str, list[str]] = defaultdict(list)
    for cls in _all_callback_data():
        owners[cls.__prefix__].append(f"{cls.__module__}.{cls.__qualname__}")
    assert {p: o for p, o in owners.items() if len(o) > 1} == {}
    assert {"fs", "bt", "gp", "gm", "co", "cj", "lx"} <= set(owners)  # the games' own
