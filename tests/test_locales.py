"""Every string a user reads is translated in all five languages, and the compiled .mo files are current."""

from handlers.common.i18n import LOCALES, merged_catalogues
from tools.i18n import LANGUAGES, extract, problems


def test_every_msgid_translated_and_compiled():
    assert problems() == []


def test_catalogues_load_for_every_language():
    loaded = merged_catalogues(LOCALES)
    ids = {m.id for catalog in extract().values() for m in catalog if m.id}
    for lang in LANGUAGES:
        if lang == "en":
            continue
        missing = [i for i in ids if i not in loaded[lang]._catalog]
        assert missing == [], f"{lang}: {missing[:3]}"
