"""Who may import whom (docs/architecture.md, "The parts and who may import whom"), read from the code.

Every import statement of our packages is parsed with `ast`, lazy imports inside functions and
relative imports included, so a layer that reaches upwards fails here rather than in review.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("builder", "engines")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. builder.accounts.naming
    target: str  # the imported module (or module.name), e.g. builder.web.i18n.LOCALES
    where: str  # path:line

    def __str__(self) -> str:
        return f"{self.where}: {self.module} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path) -> str:
    """The package a relative import in `path` starts from."""
    name = _module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_in(path: Path) -> list[Import]:
    """Every module `path` imports, absolute names (`from x import y` counts as x and x.y)."""
    module = _module_name(path)
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, where) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(path).split(".")
                anchor = ".".join(package[: len(package) - (node.level - 1)])
                base = f"{anchor}.{base}" if base else anchor
            found.append(Import(module, base, where))
            found += [Import(module, f"{base}.{alias.name}", where) for alias in node.names if alias.name != "*"]
    return found


@cache
def our_imports() -> tuple[Import, ...]:
    return tuple(
        imp
        for package in OURS
        for path in sorted((ROOT / package).rglob("*.py"))
        for imp in imports_in(path)
        if _within(imp.target, *OURS)
    )


def _within(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


@dataclass(frozen=True)
class Rule:
    """Modules in `applies_to` (minus `except_in`) must not import anything in `forbidden` (minus `allowed`)."""

    name: str
    applies_to: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    except_in: tuple[str, ...] = ()

    def breaks(self, imp: Import) -> bool:
        return (
            _within(imp.module, *self.applies_to)
            and not _within(imp.module, *self.except_in)
            and _within(imp.target, *self.forbidden)
            and not _within(imp.target, *self.allowed)
        )


RULES = [
    Rule("engines.rules imports nothing of ours", ("engines.rules",), OURS, allowed=("engines.rules",)),
    Rule("engines.forms uses only engines.rules", ("engines.forms",), OURS, allowed=("engines.forms", "engines.rules")),
    Rule("an engine never imports builder", ("engines",), ("builder",)),
    Rule(
        "only builder.web and builder.cli import the web layer",
        OURS,
        ("builder.web",),
        except_in=("builder.web", "builder.cli"),
    ),
    Rule("only the crm command imports builder.cli", OURS, ("builder.cli",), except_in=("builder.cli",)),
    Rule(
        "the record service stays below the web app and the command",
        ("builder.records",),
        ("builder.web", "builder.cli"),
    ),
]


def test_imports_are_found():
    """The parser sees absolute, relative and lazy imports (or every rule below would pass vacuously)."""
    targets = {(imp.module, imp.target) for imp in our_imports()}
    assert ("builder.records.service", "builder.records.preparing") in targets  # from . import preparing
    assert ("builder.storage.migrations.history", "builder.storage.database") in targets  # from ..database
    assert ("builder.web.app", "builder.web.security") in targets  # inside a function
    assert ("engines.forms.models", "engines.rules") in targets


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_layers_import_only_downwards(rule: Rule):
    broken = sorted({str(imp) for imp in our_imports() if rule.breaks(imp)})
    assert not broken, f"{rule.name}:\n" + "\n".join(broken)


def test_rules_catch_an_upward_import():
    """A rule does fire on the kind of import it forbids (accounts reaching into the web layer)."""
    upward = Import("builder.accounts.naming", "builder.web.i18n", "builder/accounts/naming.py:1")
    assert [rule.name for rule in RULES if rule.breaks(upward)] == [
        "only builder.web and builder.cli import the web layer"
    ]


def test_locales_live_below_the_web_layer():
    from builder.locales import LOCALES
    from builder.web.i18n import LOCALES as WEB_LOCALES

    assert WEB_LOCALES is LOCALES
