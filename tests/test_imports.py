"""The arrows between layers and capabilities, read from the source (AST) of every .py file.

Rules (each violation is printed as ``file:line: rule: what``):

- ``core-no-aiogram``: core never imports aiogram.
- ``core-no-outer``: core never imports handlers, jobs, bot, tests, tools or bench.
- ``jobs-no-handlers``: jobs never import handlers or bot (bot.py, the composition root, hands
  them what they need from handlers).
- ``export``: inside core, one capability (core/<capability>/) imports another only through
  the names that capability exports: ``from core.money import ledger, user_account``, where
  the name is in ``core/money/__init__.py``'s ``__all__``. The top-level core modules (errors,
  config) follow the same rule when they import a capability.
- ``below``: core.platform and core.money are below every other capability: platform imports
  no capability, money imports only platform.
- ``cycle``: capabilities do not import each other in a circle.
- ``all``: every name a capability's ``__all__`` lists exists in its package.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", ".git", "node_modules", "__pycache__", "build", "dist"}
OUTER = {"handlers", "jobs", "bot", "tests", "tools", "bench"}
BELOW = {"platform": set(), "money": {"platform"}}  # capability -> the capabilities it may import


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    rule: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.what}"


@dataclass(frozen=True)
class Import:
    line: int
    module: str  # absolute dotted name
    names: tuple[str, ...]  # for "from m import a, b"; () for "import m"


def python_files(root: Path = ROOT) -> list[Path]:
    found = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if not SKIP & set(rel.parts) and not rel.parts[0].startswith("."):
            found.append(path)
    return sorted(found)


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool) -> list[Import]:
    """Every import in ``source`` (at any depth: functions, TYPE_CHECKING blocks), made absolute."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, *([name] if name else [])])
            found.append(Import(node.lineno, name, tuple(alias.name for alias in node.names)))
    return found


def capability_of(module: str) -> str | None:
    """core.money.ledger -> money; core.errors -> None (a top-level core module)."""
    parts = module.split(".")
    if parts[0] != "core" or len(parts) < 2:
        return None
    return parts[1] if is_capability(parts[1]) else None


def is_capability(name: str) -> bool:
    return (ROOT / "core" / name / "__init__.py").is_file()


def exports_of(capability: str) -> set[str] | None:
    """The names core/<capability>/__init__.py lists in ``__all__`` (None: it has no __all__)."""
    tree = ast.parse((ROOT / "core" / capability / "__init__.py").read_text())
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
            return set(ast.literal_eval(node.value))
    return None


def check_file(
    rel: str, source: str, exports: dict[str, set[str] | None], edges: dict[tuple[str, str], Violation]
) -> list[Violation]:
    """The violations of one file; cross-capability edges are collected in ``edges`` for the cycle rule."""
    path = Path(rel)
    module = module_name(path)
    layer = path.parts[0] if len(path.parts) > 1 else path.stem
    own = capability_of(module)
    found = []
    for imp in imports_of(source, module, path.name == "__init__.py"):
        top = imp.module.split(".")[0]
        if layer == "core":
            if top == "aiogram":
                found.append(Violation(rel, imp.line, "core-no-aiogram", f"imports {imp.module}"))
            if top in OUTER:
                found.append(Violation(rel, imp.line, "core-no-outer", f"imports {imp.module}"))
        if layer == "jobs" and top in {"handlers", "bot"}:
            found.append(Violation(rel, imp.line, "jobs-no-handlers", f"imports {imp.module}"))
        if layer != "core" or top != "core":
            continue
        target = capability_of(imp.module)
        if target is None or target == own:
            continue
        edges.setdefault((own or "core", target), Violation(rel, imp.line, "cycle", ""))
        if own in BELOW and target not in BELOW[own]:
            found.append(
                Violation(
                    rel, imp.line, "below", f"core.{own} imports core.{target} (it is below every capability)"
                )
            )
        package = f"core.{target}"
        if imp.module != package or not imp.names:
            found.append(
                Violation(
                    rel,
                    imp.line,
                    "export",
                    f"imports {imp.module}{' ' + ', '.join(imp.names) if imp.names else ''}: "
                    f"import the names {package} exports instead (from {package} import ...)",
                )
            )
            continue
        allowed = exports.get(target)
        if allowed is None:
            found.append(Violation(rel, imp.line, "export", f"{package} has no __all__ to import from"))
            continue
        for name in imp.names:
            if name not in allowed:
                found.append(
                    Violation(
                        rel, imp.line, "export", f"{package} does not export {name!r} (not in its __all__)"
                    )
                )
    return found


def cycles(edges: dict[tuple[str, str], Violation]) -> list[Violation]:
    """One violation per capability edge that lies on a circle."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo += graph.get(node, ())
        return False

    found = []
    for (a, b), first in sorted(edges.items()):
        if reaches(b, a):
            found.append(
                Violation(first.path, first.line, "cycle", f"core.{a} -> core.{b} -> ... -> core.{a}")
            )
    return found


def check_tree(root: Path = ROOT) -> list[Violation]:
    capabilities = sorted(p.parent.name for p in (root / "core").glob("*/__init__.py"))
    exports = {cap: exports_of(cap) for cap in capabilities}
    edges: dict[tuple[str, str], Violation] = {}
    found = []
    for path in python_files(root):
        rel = path.relative_to(root).as_posix()
        found += check_file(rel, path.read_text(encoding="utf-8"), exports, edges)
    return found + cycles(edges)


def test_the_import_rules_hold():
    violations = check_tree()
    assert not violations, "import rules broken:\n" + "\n".join(map(str, violations))


def test_every_capability_exports_what_its_all_lists():
    capabilities = sorted(p.parent.name for p in (ROOT / "core").glob("*/__init__.py"))
    assert {"platform", "money", "identity", "earn", "play", "cashout"} <= set(capabilities)
    missing = []
    for cap in capabilities:
        names = exports_of(cap)
        assert names is not None, f"core/{cap}/__init__.py has no __all__"
        package = importlib.import_module(f"core.{cap}")
        missing += [f"core.{cap}.{name}" for name in sorted(names) if not hasattr(package, name)]
    assert not missing, f"listed in __all__ but not defined: {missing}"


EXPORTS = {"money": {"ledger", "user_account"}, "platform": {"audit"}, "earn": {"faucet"}}


def rules(rel: str, source: str) -> list[str]:
    return [v.rule for v in check_file(rel, source, EXPORTS, {})]


def test_each_rule_catches_what_it_should():
    """The checker itself: each kind of violation is found, and the allowed forms pass."""
    assert rules("core/play/x.py", "from aiogram import Bot\n") == ["core-no-aiogram"]
    assert rules("core/play/x.py", "def f():\n    from handlers.common import i18n\n") == ["core-no-outer"]
    assert rules("core/errors.py", "import jobs\n") == ["core-no-outer"]
    assert rules("jobs/x.py", "from handlers.play.crash import x\n") == ["jobs-no-handlers"]
    assert rules("jobs/x.py", "from core.money.ledger import transfer\n") == []  # only core-to-core is held
    assert rules("core/play/x.py", "from core.money.ledger import transfer\n") == ["export"]
    assert rules("core/play/x.py", "import core.money.ledger\n") == ["export"]
    assert rules("core/play/x.py", "from core.money import _post\n") == ["export"]
    assert rules("core/play/x.py", "from core.money import ledger, user_account\n") == []
    assert rules("core/play/x.py", "from core.play.fair import roll\nfrom . import fair\n") == []
    assert rules("core/play/x.py", "from ..money import ledger\n") == []
    assert rules("core/play/x.py", "from ..money.ledger import transfer\n") == ["export"]
    assert rules("core/money/x.py", "from core.earn import faucet\n") == ["below"]
    assert rules("core/platform/x.py", "from core.money import ledger\n") == ["below"]
    assert rules("core/money/x.py", "from core.platform import audit\n") == []
    edges: dict = {}
    check_file("core/earn/a.py", "from core.play import games\n", {"play": {"games"}}, edges)
    check_file("core/play/b.py", "from core.earn import faucet\n", EXPORTS, edges)
    found = cycles(edges)
    assert [v.rule for v in found] == ["cycle", "cycle"]
    assert str(found[0]) == "core/earn/a.py:1: cycle: core.earn -> core.play -> ... -> core.earn"
