"""Translations: gettext catalogues under locales/, one domain per feature.

Each capability keeps its strings in its own domain, named after its folder
(``handlers/earn/`` -> ``earn``; home, common and admin share "messages"), so features
never edit each other's catalogues. At run time every domain of a language is merged into one catalogue.
"""

from __future__ import annotations

import gettext
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from core.identity.users import DEFAULT_LANGUAGE, LANGUAGES
from core.money.amounts import format_amount
from core.money.assets import ledger_asset

LOCALES = Path(__file__).resolve().parents[2] / "locales"
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Español",
    "pt": "Português",
    "ru": "Русский",
    "id": "Bahasa Indonesia",
}

__all__ = ["_", "__", "I18n", "get_i18n", "LocaleMiddleware", "amount", "LANGUAGE_NAMES"]


def merged_catalogues(path: Path) -> dict[str, gettext.GNUTranslations]:
    """Every ``*.mo`` of each language merged into one catalogue (aiogram loads one domain)."""
    found: dict[str, gettext.GNUTranslations] = {}
    for lang_dir in sorted(path.iterdir()):
        mos = sorted((lang_dir / "LC_MESSAGES").glob("*.mo")) if lang_dir.is_dir() else []
        for mo in mos:
            with mo.open("rb") as fp:
                catalogue = gettext.GNUTranslations(fp)
            if lang_dir.name in found:
                found[lang_dir.name]._catalog.update(catalogue._catalog)  # type: ignore[attr-defined]
            else:
                found[lang_dir.name] = catalogue
    return found


_i18n: I18n | None = None


def get_i18n() -> I18n:
    """The process's translations, loaded once from locales/."""
    global _i18n
    if _i18n is None:
        _i18n = I18n(path=LOCALES, default_locale=DEFAULT_LANGUAGE)
        _i18n.locales = merged_catalogues(LOCALES)
        missing = set(LANGUAGES) - set(_i18n.available_locales) - {DEFAULT_LANGUAGE}
        if missing:
            raise RuntimeError(
                f"compiled translations missing for {sorted(missing)}: run python -m tools.i18n"
            )
    return _i18n


class LocaleMiddleware(BaseMiddleware):
    """Sets the language of this update: the user's stored choice, else Telegram's, else English."""

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("user")
        locale = user.locale if user is not None else DEFAULT_LANGUAGE
        data["i18n"] = self.i18n
        data["locale"] = locale
        with self.i18n.context(), self.i18n.use_locale(locale):
            return await handler(event, data)


def amount(value: int, asset: str) -> str:
    """Minor units as the user reads them: '0.00001234 BTC'."""
    return format_amount(value, ledger_asset(asset))
