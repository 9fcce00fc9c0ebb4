"""Load a blueprint: parse, check structure (pydantic), check meaning (engines).

Every problem from every stage is mapped back to file:line:column and reported at
once, so an author fixes a whole blueprint in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from engines.rules import Problem, did_you_mean

from .blueprint import SUPPORTED_LOCALES, UNSUPPORTED_SECTIONS, Blueprint
from .errors import BlueprintError, LocatedProblem
from .source import Source, load_source


@dataclass
class LoadedBlueprint:
    """A checked blueprint and the source it came from (for later error positions)."""

    blueprint: Blueprint
    source: Source

    def locate(self, problems: Iterable[Problem]) -> list[LocatedProblem]:
        return locate(self.source, problems)


def locate(source: Source, problems: Iterable[Problem]) -> list[LocatedProblem]:
    """Resolve each problem's blueprint path to its file, line and column."""
    located = []
    for p in problems:
        inside_value = p.column_offset or p.code.startswith("expression.")  # a column inside the text
        pos = source.value_position(p.loc, p.column_offset) if inside_value else source.position(p.loc)
        located.append(LocatedProblem(pos, p.code, p.message, p.hint, ".".join(str(x) for x in p.loc)))
    return located


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-member and type tags from an error location."""
    tags = {"str", "dict[str,str]", "list[str]", "literal['all']", "function-after[_not_empty(), dict[str,FieldSpec]]"}
    return tuple(part for part in loc if not (isinstance(part, str) and (part in tags or "[" in part and "]" in part)))


_KNOWN_KEYS_CACHE: dict[type, list[str]] = {}


def _model_at(loc: tuple[Any, ...]) -> type | None:
    """The pydantic model class that owns the mapping at `loc` (for did-you-mean hints)."""
    from engines.forms.models import EntitySpec, FieldSpec, FormSpec, PermissionSpec, SectionSpec, ValidationSpec

    model: Any = Blueprint
    i = 0
    while i < len(loc):
        field = model.model_fields.get(loc[i]) if hasattr(model, "model_fields") else None
        if field is None:
            return None
        ann = {"entities": EntitySpec, "forms": FormSpec, "fields": FieldSpec, "permissions": PermissionSpec,
               "layout": SectionSpec, "validations": ValidationSpec}.get(loc[i])
        if ann is None:
            sub = field.annotation
            return sub if isinstance(sub, type) and i == len(loc) - 1 else None
        model = ann
        i += 2  # skip the dict key or list index
    return model


def _pydantic_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for err in error.errors():
        loc = _clean_loc(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            known = list(getattr(model, "model_fields", {}))
            problems.append(Problem(loc, "blueprint.unknown_key", f"unknown key `{loc[-1]}`",
                                    did_you_mean(str(loc[-1]), known)))
        elif kind == "missing":
            problems.append(Problem(loc[:-1], "blueprint.missing_key", f"`{loc[-1]}` is required here"))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(loc, f"blueprint.{kind}", msg))
    return _dedupe(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, unique = set(), []
    for p in problems:
        key = (p.loc, p.message)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _section_problems(data: dict[str, Any]) -> list[Problem]:
    problems = []
    for name in data:
        if name in UNSUPPORTED_SECTIONS:
            problems.append(Problem((name,), "section.not_supported",
                                    f"the `{name}` section is not supported yet; remove it for now"))
    return problems


def check_meaning(blueprint: Blueprint) -> list[Problem]:
    """Cross-references and expressions, checked by the engine that owns each section."""
    from engines.forms import check_entities_and_forms

    return list(check_entities_and_forms(blueprint.entities, blueprint.forms, set(blueprint.roles),
                                         decision_tables=set(blueprint.decision_tables),
                                         locales=SUPPORTED_LOCALES))


def load_blueprint(path: Path | str) -> LoadedBlueprint:
    """Load and fully check the blueprint at `path` (a file or a directory)."""
    source = load_source(path)
    problems = _section_problems(source.data)
    data = {k: v for k, v in source.data.items() if k not in UNSUPPORTED_SECTIONS}
    try:
        blueprint = Blueprint.model_validate(data)
    except ValidationError as exc:
        raise BlueprintError(locate(source, problems + _pydantic_problems(exc))) from None
    problems += check_meaning(blueprint)
    if problems:
        raise BlueprintError(locate(source, problems))
    return LoadedBlueprint(blueprint, source)
