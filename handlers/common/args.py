"""What users and admins type after a command, split into the words handlers need."""

from __future__ import annotations

from aiogram.filters import CommandObject

from handlers.common.menu import MAX_ID


def words(command: CommandObject) -> list[str]:
    """The command's arguments split on whitespace: ``/limits BTC off`` -> ['BTC', 'off']."""
    return (command.args or "").split()


def args_of(command: CommandObject, count: int, *, note: bool = False) -> list[str] | None:
    """Split the arguments: the first ``count - 1`` words, then the rest as one.

    With ``note``, the last one (a note or reason) may be left out and is then empty.
    None when there are fewer words than that.
    """
    parts = (command.args or "").split(maxsplit=count - 1)
    if note and len(parts) == count - 1:
        parts.append("")
    return parts if len(parts) == count else None


def row_id(text: str | None) -> int | None:
    """A row number typed by a person (``12`` or ``#12``): ASCII digits, 1 to MAX_ID - 1;
    None for anything else, so a forged huge number never reaches the database."""
    text = (text or "").strip().lstrip("#")
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
        return None
    number = int(text)
    return number if 0 < number < MAX_ID else None
