"""Keep the translations in step with the code.

    python -m tools.i18n            extract strings, update every .po, compile .mo
    python -m tools.i18n check      fail if a string is untranslated or a file is stale
    python -m tools.i18n fill DOMAIN LANG FILE.json   set translations from {msgid: msgstr}

A module's strings go to the domain of its capability: ``handlers/<capability>/`` for the
capabilities that own their words (earn, play, cashout, security, and those to come), a
``# i18n-domain: NAME`` line near its top elsewhere (jobs), and "messages" otherwise (home,
common, admin, bot.py). Keywords: _ and __ (lazy).
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
SOURCES = ("bot.py", "handlers", "jobs")
LANGUAGES = ("en", "es", "pt", "ru", "id")
KEYWORDS = {"_": None, "__": None}
_DOMAIN = re.compile(r"^#\s*i18n-domain:\s*([a-z_]+)\s*$", re.M)


def source_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        p = ROOT / name
        files += [p] if p.is_file() else sorted(p.rglob("*.py"))
    return files


# handlers/ capabilities whose strings share "messages": the shell around every feature.
SHARED = {"home", "common", "admin"}


def domain_of(path: Path) -> str:
    m = _DOMAIN.search(path.read_text(encoding="utf-8")[:2000])
    if m:
        return m.group(1)
    parts = path.relative_to(ROOT).parts
    if parts[0] == "handlers" and len(parts) > 2 and parts[1] not in SHARED:
        return parts[1]
    return "messages"


def extract() -> dict[str, Catalog]:
    catalogs: dict[str, Catalog] = defaultdict(lambda: Catalog(project="dustpan", charset="utf-8"))
    for path in source_files():
        rel = path.relative_to(ROOT).as_posix()
        for lineno, msgid, comments, _ctx in extract_from_file("python", str(path), keywords=KEYWORDS):
            if isinstance(msgid, tuple):
                msgid = msgid[0]
            catalogs[domain_of(path)].add(msgid, locations=[(rel, lineno)], auto_comments=comments)
    return dict(catalogs)


def _po_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(
        buf,
        catalog,
        width=100,
        omit_header=False,
        sort_output=False,
        ignore_obsolete=True,
        include_lineno=False,
    )
    return buf.getvalue()


def _mo_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def po_path(lang: str, domain: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{domain}.po"


def load_po(lang: str, domain: str) -> Catalog | None:
    path = po_path(lang, domain)
    if not path.exists():
        return None
    with path.open("rb") as fp:
        return read_po(fp, locale=lang, domain=domain)


def known_translations(lang: str) -> dict[str, str]:
    """Every translation a language has in any domain, so a string that moves between
    modules (and so between domains) keeps its translation."""
    found: dict[str, str] = {}
    for po in sorted((LOCALES / lang / "LC_MESSAGES").glob("*.po")):
        for m in load_po(lang, po.stem) or []:
            if m.id and m.string:
                found.setdefault(m.id, m.string)
    return found


def updated(template: Catalog, lang: str, domain: str, known: dict[str, str] | None = None) -> Catalog:
    old = load_po(lang, domain)
    new = Catalog(locale=lang, domain=domain, project="dustpan", charset="utf-8", fuzzy=False)
    for msg in template:
        if not msg.id:
            continue
        prev = old.get(msg.id) if old else None
        kept = prev.string if prev and prev.string else (known or {}).get(msg.id, "")
        text = msg.id if lang == "en" else kept
        new.add(msg.id, text, locations=msg.locations, auto_comments=msg.auto_comments)
    return new


_STAMP = re.compile(rb'^"POT-Creation-Date: [^"]*"\n', re.M)


def _same_but_stamp(path: Path, data: bytes) -> bool:
    """True when the file already holds ``data`` but for its creation time, so an update that
    changed nothing leaves the file (and branches merging it) alone."""
    return path.exists() and _STAMP.sub(b"", path.read_bytes()) == _STAMP.sub(b"", data)


def update() -> None:
    templates = extract()
    known = {lang: known_translations(lang) for lang in LANGUAGES}
    for domain, template in templates.items():
        (LOCALES).mkdir(exist_ok=True)
        pot = LOCALES / f"{domain}.pot"
        if not _same_but_stamp(pot, data := _po_bytes(template)):
            pot.write_bytes(data)
        for lang in LANGUAGES:
            catalog = updated(template, lang, domain, known[lang])
            path = po_path(lang, domain)
            path.parent.mkdir(parents=True, exist_ok=True)
            if _same_but_stamp(path, data := _po_bytes(catalog)) and path.with_suffix(".mo").exists():
                continue
            path.write_bytes(data)
            path.with_suffix(".mo").write_bytes(_mo_bytes(catalog))
    for lang in LANGUAGES:  # domains whose strings all left the code
        for po in (LOCALES / lang / "LC_MESSAGES").glob("*.po"):
            if po.stem not in templates:
                po.unlink()
                po.with_suffix(".mo").unlink(missing_ok=True)
    for pot in LOCALES.glob("*.pot"):
        if pot.stem not in templates:
            pot.unlink()


def problems() -> list[str]:
    found: list[str] = []
    templates = extract()
    for domain, template in templates.items():
        ids = {m.id for m in template if m.id}
        for lang in LANGUAGES:
            cat = load_po(lang, domain)
            if cat is None:
                found.append(f"{lang}/{domain}.po is missing")
                continue
            have = {m.id for m in cat if m.id}
            for missing in sorted(ids - have):
                found.append(f"{lang}/{domain}.po lacks {missing!r}")
            for m in cat:
                if not m.id:
                    continue
                if not m.string:
                    found.append(f"{lang}/{domain}.po: untranslated {m.id!r}")
                elif set(re.findall(r"{(\w+)}", m.id)) != set(re.findall(r"{(\w+)}", m.string)):
                    found.append(f"{lang}/{domain}.po: placeholders differ in {m.id!r}")
                elif m.fuzzy:
                    found.append(f"{lang}/{domain}.po: fuzzy {m.id!r}")
            mo = po_path(lang, domain).with_suffix(".mo")
            if not mo.exists() or mo.read_bytes() != _mo_bytes(cat):
                found.append(f"{lang}/{domain}.mo is not compiled from its .po: run python -m tools.i18n")
    return found


def fill(domain: str, lang: str, mapping: dict[str, str]) -> None:
    cat = load_po(lang, domain)
    if cat is None:
        raise SystemExit(f"no {lang}/{domain}.po: run python -m tools.i18n first")
    unknown = [k for k in mapping if k not in cat]
    if unknown:
        raise SystemExit(f"not in {lang}/{domain}.po: {unknown[:3]}")
    for msgid, text in mapping.items():
        cat[msgid].string = text
        cat[msgid].flags.discard("fuzzy")
    po_path(lang, domain).write_bytes(_po_bytes(cat))
    po_path(lang, domain).with_suffix(".mo").write_bytes(_mo_bytes(cat))


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"]:
        found = problems()
        print("\n".join(found) or "translations complete")
        return 1 if found else 0
    if argv[:1] == ["fill"] and len(argv) == 4:
        fill(argv[1], argv[2], json.loads(Path(argv[3]).read_text(encoding="utf-8")))
        return 0
    if argv:
        print(__doc__)
        return 2
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
