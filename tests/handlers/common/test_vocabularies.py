"""Core's vocabularies and the words users read for them: every transfer code has a label,
every error reason a translated message, every withdrawal state a name, in all five languages;
and what core raises or posts is in its vocabulary (read from the source), so a typo cannot
reach a user as a generic "Transfer" or "That cannot be done"."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import handlers
from core.cashout.withdrawals import State
from core.earn.faucet import Outcome, Status
from core.errors import DomainError, Reason
from core.identity.users import LANGUAGES
from core.money.addresses import InvalidAddress
from core.money.addresses import Reason as AddressReason
from core.money.codes import Code
from core.platform.schema import load_all
from handlers.cashout.withdraw import STATE_NAMES, state_name
from handlers.common import errors, labels
from handlers.common.i18n import get_i18n
from handlers.earn import api
from handlers.earn.faucet import outcome_text

ROOT = Path(__file__).resolve().parents[3]
load_all()
handlers.get_routers()  # every handler module registers its labels and messages on import


def in_every_language(render) -> dict[str, str]:
    i18n = get_i18n()
    out = {}
    for lang in LANGUAGES:
        with i18n.context(), i18n.use_locale(lang):
            out[lang] = render()
    return out


def assert_translated(texts: dict[str, str], what: str) -> None:
    """Each language says it in its own words: a text equal to the English one counts only
    when that language's catalogue translates it so on purpose ("Tip" is "Tip" in Indonesian)."""
    english = texts["en"]
    assert english.strip(), what
    catalogues = get_i18n().locales
    untranslated = [
        lang
        for lang, text in texts.items()
        if lang != "en" and text == english and not getattr(catalogues[lang], "_catalog", {}).get(english)
    ]
    assert not untranslated, f"{what}: not translated in {untranslated}: {english!r}"


def test_every_transfer_code_has_a_label_a_user_reads():
    generic = in_every_language(lambda: labels.label("no such code"))["en"]
    missing = sorted(
        code for code in Code if in_every_language(lambda c=code: labels.label(c))["en"] == generic
    )
    assert not missing, f"transfer codes without a label: {missing}"
    for code in Code:
        assert_translated(in_every_language(lambda c=code: labels.label(c)), f"label of {code}")


def test_labels_are_only_for_known_codes():
    assert labels.registered() <= set(Code), labels.registered() - set(Code)


class One(int):
    """A parameter value that any message can format (as a number, a time, a string)."""

    def __format__(self, spec: str) -> str:
        try:
            return int.__format__(self, spec)
        except ValueError:
            return "1"


class Params(defaultdict):
    """What a message may read: any parameter, with a coin where one is needed."""

    def __init__(self) -> None:
        super().__init__(lambda: One(1), asset="BTC", code="XYZ", key="faucet.reward.BTC", value="x")


def message(reason: str, kind: type[DomainError]) -> str:
    error = kind.__new__(kind)
    DomainError.__init__(error, reason)
    error.params = Params()
    return errors.explain(error)


def first_message(reason: str, kinds: list[type[DomainError]], fallback: str) -> dict[str, str] | None:
    """The reason's message in every language, for the first error class that has one."""
    for kind in kinds:
        texts = in_every_language(lambda k=kind: message(reason, k))
        if texts["en"] != fallback:
            return texts
    return None


# Answered to offerwall networks by /postback/<name> (HTTP 200 "0", or 503 for an empty pool), as
# each network's protocol expects; never shown to a person (handlers.earn.postback).
POSTBACK_ONLY = {
    "bad_signature",
    "ip_refused",
    "malformed",
    "missing_field",
    "offer_pool_dry",
    "replay_mismatch",
    "reversed_before",
    "unknown_sub",
    "wall_off",
}


def test_every_reason_has_a_translated_message():
    """The faucet API's reasons are answered in English by that protocol (handlers.earn.api)."""
    fallback = in_every_language(lambda: message("no such reason", DomainError))["en"]
    kinds = sorted(_subclasses(DomainError), key=lambda k: k.__name__)
    for reason in Reason:
        if reason == Reason.DOMAIN_ERROR:  # the base class's own: the fallback is its message
            continue
        if reason.startswith("api_"):
            assert reason in api._ERRORS, f"faucet API reason {reason!r} has no API answer"
            continue
        if reason in POSTBACK_ONLY:
            continue
        texts = first_message(reason, kinds, fallback)
        assert texts is not None, f"reason {reason!r} has no message (handlers.common.errors.register)"
        assert_translated(texts, f"message of {reason!r}")
    for reason in AddressReason:
        texts = first_message(reason, [InvalidAddress], fallback)
        assert texts is not None, f"address reason {reason!r} has no message"
        assert_translated(texts, f"message of {reason!r}")


def test_every_withdrawal_state_and_faucet_outcome_has_words():
    assert set(STATE_NAMES) == set(State)
    for state in State:
        assert_translated(in_every_language(lambda s=state: state_name(s)), f"state {state}")
    for status in Status:
        texts = in_every_language(lambda s=status: outcome_text(Outcome(s, "BTC", 1, 0, 60)))
        assert_translated(texts, f"faucet outcome {status}")
    english = {in_every_language(lambda s=s: outcome_text(Outcome(s, "BTC", 1, 0, 60)))["en"] for s in Status}
    assert len(english) == len(Status)


def _literals(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def _subclasses(base: type) -> set[type]:
    todo, found = [base], set()
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    return found


def _domain_errors() -> set[str]:
    return {cls.__name__ for cls in _subclasses(DomainError)}


def raised_reasons() -> dict[str, str]:
    """Every reason literal core passes to a DomainError (or sets as its class's ``reason``)."""
    kinds = _domain_errors()
    found: dict[str, str] = {}
    for path in sorted((ROOT / "core").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args:
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in kinds or name == "__init__":
                    for value in _literals(node.args[0]):
                        found.setdefault(value, f"{rel}:{node.lineno}")
            if isinstance(node, ast.ClassDef) and (
                node.name in kinds or any(getattr(b, "id", None) in kinds for b in node.bases)
            ):
                for stmt in node.body:
                    if isinstance(stmt, ast.Assign) and any(
                        getattr(t, "id", None) == "reason" for t in stmt.targets
                    ):
                        for value in _literals(stmt.value):
                            found.setdefault(value, f"{rel}:{stmt.lineno}")
    return found


def posted_codes() -> dict[str, str]:
    """Every ``code="..."`` literal and ``CODE... = "..."`` constant in core."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "core").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "code":
                for value in _literals(node.value):
                    found.setdefault(value, f"{rel}:{node.value.lineno}")
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id.startswith("CODE") for t in node.targets
            ):
                for value in _literals(node.value):
                    found.setdefault(value, f"{rel}:{node.lineno}")
    return found


def test_what_core_raises_is_a_registered_reason():
    known = {str(r) for r in Reason}
    unknown = {r: where for r, where in raised_reasons().items() if r not in known}
    assert not unknown, "reasons not in core.errors.Reason:\n" + "\n".join(
        f"{where}: {r!r}" for r, where in sorted(unknown.items(), key=lambda i: i[1])
    )


def test_what_core_posts_is_a_transfer_code():
    known = {str(c) for c in Code}
    unknown = {c: where for c, where in posted_codes().items() if c not in known}
    assert not unknown, "codes not in core.money.codes.Code:\n" + "\n".join(
        f"{where}: {c!r}" for c, where in sorted(unknown.items(), key=lambda i: i[1])
    )


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ('raise WithdrawalError("no_such_thing")', {"no_such_thing"}),
        ('raise CrashRefused("a" if x else "b")', {"a", "b"}),
        ('class X(DomainError):\n    reason = "c"', {"c"}),
        ('ledger.transfer(conn, code="typo_code")', {"typo_code"}),
        ('CODE_X = "typo"', {"typo"}),
    ],
)
def test_the_scanners_find_literals(tmp_path, monkeypatch, source, found):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "x.py").write_text(source + "\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert set(raised_reasons()) | set(posted_codes()) == found
