"""Every command the bot answers is in Telegram's menu and in /help (aliases aside)."""

from aiogram.filters import Command

from handlers import get_routers
from handlers.common.commands import ADMIN, PUBLIC
from tests.handlers.harness import texts

ALIASES = {"addresses"}  # /address's plural


def answered_commands() -> set[str]:
    names = set()
    for router in get_routers():
        for handler in router.message.handlers:
            for f in handler.filters or ():
                if isinstance(f.callback, Command):
                    names |= {c if isinstance(c, str) else c.command for c in f.callback.commands}
    return names


def test_every_answered_command_is_listed_and_every_listed_one_answered():
    listed = {name for name, _ in PUBLIC + ADMIN}
    assert answered_commands() - ALIASES == listed


async def test_help_shows_clientseed(tg):
    out = texts(await tg.person(7, language_code="es").send("/help"))
    assert "/clientseed — Elige tu propia semilla del cliente" in out
