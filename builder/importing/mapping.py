"""The mapping file: which column fills which field, and how its cells are read.

```yaml
entity: patient
fields:
  name: 姓名                                  # a column, as the header says it
  gender: {column: 性别, values: {男: male, 女: female}}
  birth_date: {column: 出生日期, format: "%d/%m/%Y"}
  primary_doctor: {column: 医生, by: name}     # a link, found by the staff member's name
match: [phone]                               # or [id_number], or [name, birth_date], or a list of those
on_duplicate: skip                           # skip | update | stop
```

It is checked against the blueprint before a row is read, so a typo in a field name
stops the import with one clear sentence instead of rejecting every row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from engines.forms import EntitySpec

from .errors import ImportFailed

Duplicates = Literal["skip", "update", "stop"]


class ColumnRule(BaseModel):
    """How one field is filled: its column, and for some types how cells are read."""

    model_config = ConfigDict(extra="forbid")

    column: str
    values: dict[str, Any] = {}  # cell text -> stored value (男 -> male); labels in both languages work without
    format: list[str] = []  # strptime formats tried before the usual date shapes
    by: str | None = None  # link fields: the target's field that names it (name, staff number)

    @field_validator("format", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("values", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


class ParentKey(BaseModel):
    """Which child rows belong to which row of the main file: a column of the child sheet holding
    the parent row's `key` column (a visit number), or with `row: true` the parent's row number."""

    model_config = ConfigDict(extra="forbid")

    column: str
    key: str | None = None  # the main file's column; default: a column of the same name
    row: bool = False  # the child column holds the main file's row number instead

    def parent_column(self) -> str | None:
        return None if self.row else (self.key or self.column)


class ChildRule(BaseModel):
    """A `table` field's rows, from a sheet of the same workbook or a second file."""

    model_config = ConfigDict(extra="forbid")

    sheet: str | None = None  # a sheet of the main workbook, or of `file` when it is a workbook
    file: str | None = None  # a second file, relative to the main file's folder
    parent: ParentKey
    fields: dict[str, ColumnRule]
    sha256: str | None = None  # of `file`, set by a run (kept with its mapping) so a resume refuses a changed file

    @field_validator("file")
    @classmethod
    def _beside(cls, value: str | None) -> str | None:
        """A file beside the main one, by its name: never a path elsewhere on the machine."""
        if value is not None and (Path(value).name != value or value in ("", ".", "..")):
            raise ValueError("give the name of a file in the main file's folder, not a path")
        return value

    @field_validator("parent", mode="before")
    @classmethod
    def _short_key(cls, value: Any) -> Any:
        return {"column": str(value)} if isinstance(value, (str, int)) else value

    @field_validator("fields", mode="before")
    @classmethod
    def _columns(cls, value: Any) -> Any:
        return _short_columns(value)


def _short_columns(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: ({"column": str(v)} if isinstance(v, (str, int)) else v) for k, v in value.items() if v is not None}


class ImportMapping(BaseModel):
    """A whole mapping: the entity, its fields' columns, and how duplicates are found and treated."""

    model_config = ConfigDict(extra="forbid")

    entity: str
    fields: dict[str, ColumnRule]
    match: list[list[str]] = []
    on_duplicate: Duplicates = "skip"
    children: dict[str, ChildRule] = {}  # table field -> where its rows come from (see children.py)

    @field_validator("fields", mode="before")
    @classmethod
    def _columns(cls, value: Any) -> Any:
        return _short_columns(value)

    @field_validator("match", mode="before")
    @classmethod
    def _rules(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [[value]]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return [value]
        return value

    def check(self, entities: dict[str, EntitySpec], columns: list[str] | None = None) -> None:
        """ImportFailed naming every field, column or match rule that cannot work."""
        problems: list[str] = []
        entity = entities.get(self.entity)
        if entity is None:
            raise ImportFailed(f"there is no entity `{self.entity}` (entities: {', '.join(entities)})")
        for name, rule in self.fields.items():
            spec = entity.fields.get(name)
            if spec is None:
                problems.append(f"`{self.entity}` has no field `{name}`")
                continue
            if spec.compute is not None:
                problems.append(f"`{name}` is computed; it cannot be imported")
            if spec.type == "table":
                problems.append(f"`{name}` holds child rows: map them under `children:` (a second sheet or file)")
            problems += _link_problems(name, spec, rule, entities)
            if columns is not None and rule.column not in columns:
                problems.append(f"`{name}`: the file has no column `{rule.column}` (columns: {', '.join(columns)})")
        for name, child in self.children.items():
            problems += _child_problems(self.entity, name, child, entity, entities, columns)
        for fields in self.match:
            for field_name in fields:
                if field_name not in entity.fields:
                    problems.append(f"match: `{self.entity}` has no field `{field_name}`")
                elif field_name not in self.fields:
                    problems.append(f"match: `{field_name}` is not filled from any column")
        if problems:
            raise ImportFailed("the mapping cannot be used: " + "; ".join(problems))

    def child_sources(self) -> list[str]:
        """The children's own files (relative to the main file), for a resume's check that none changed."""
        return sorted({child.file for child in self.children.values() if child.file})

    def to_yaml(self) -> str:
        """The mapping as an editable YAML file (short forms where a field needs nothing but its column)."""
        document: dict[str, Any] = {"entity": self.entity, "fields": _columns_yaml(self.fields)}
        if self.children:
            document["children"] = {name: _child_yaml(child) for name, child in self.children.items()}
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)
        rules = ["[" + ", ".join(rule) + "]" for rule in self.match]
        match = rules[0] if len(rules) == 1 else "[" + ", ".join(rules) + "]"
        return text + f"match: {match}\non_duplicate: {self.on_duplicate}\n"


def _columns_yaml(fields: dict[str, ColumnRule]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name, rule in fields.items():
        extra = rule.model_dump(exclude_defaults=True, exclude={"column"})
        if "format" in extra and len(extra["format"]) == 1:
            extra["format"] = extra["format"][0]
        if rule.values:
            extra["values"] = rule.values  # kept even when empty entries wait to be filled in
        columns[name] = {"column": rule.column, **extra} if extra else rule.column
    return columns


def _child_yaml(child: ChildRule) -> dict[str, Any]:
    where = child.model_dump(exclude_defaults=True, include={"sheet", "file"})
    parent = child.parent.model_dump(exclude_defaults=True)
    return {
        **where,
        "parent": parent["column"] if list(parent) == ["column"] else parent,
        "fields": _columns_yaml(child.fields),
        **({"sha256": child.sha256} if child.sha256 else {}),
    }


def _link_problems(name: str, spec: Any, rule: ColumnRule, entities: dict[str, EntitySpec]) -> list[str]:
    if spec.type == "link" and rule.by is not None:
        target = entities.get(spec.to or "")
        if target is not None and rule.by not in target.fields and rule.by != "id":
            return [f"`{name}`: `{spec.to}` has no field `{rule.by}` to find it by"]
    elif rule.by is not None:
        return [f"`{name}`: `by` is only for link fields"]
    return []


def _child_problems(
    entity_name: str,
    name: str,
    child: ChildRule,
    entity: EntitySpec,
    entities: dict[str, EntitySpec],
    columns: list[str] | None,
) -> list[str]:
    """What cannot work in one `children:` entry (its own sheet's columns are checked once it is opened)."""
    spec = entity.fields.get(name)
    if spec is None or spec.type != "table":
        kind = "has no field" if spec is None else "has no table field"
        return [f"children: `{entity_name}` {kind} `{name}`"]
    problems = []
    if child.sheet is None and child.file is None:
        problems.append(f"children: `{name}`: say where its rows are (`sheet:` or `file:`)")
    key = child.parent.parent_column()
    if key is not None and columns is not None and key not in columns:
        problems.append(f"children: `{name}`: the main file has no column `{key}` to find a row's children by")
    if child.parent.row and child.parent.key:
        problems.append(f"children: `{name}`: the parent is found by its `key` column or by its `row`, not both")
    sub = spec.fields or {}
    for field_name, rule in child.fields.items():
        field_spec = sub.get(field_name)
        if field_spec is None:
            problems.append(f"children: `{name}` has no field `{field_name}`")
            continue
        if field_spec.compute is not None:
            problems.append(f"children: `{name}.{field_name}` is computed; it cannot be imported")
        problems += _link_problems(f"{name}.{field_name}", field_spec, rule, entities)
    return problems


def parse_mapping(text: str, origin: str = "the mapping") -> ImportMapping:
    """A mapping from YAML text; ImportFailed pointing at the wrong key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ImportFailed(f"{origin} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ImportFailed(f"{origin} must be a YAML mapping with `entity:` and `fields:`")
    try:
        return ImportMapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ImportFailed(f"{origin}: {where}: {first['msg']}") from None


def load_mapping(path: Path | str) -> ImportMapping:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"cannot read the mapping {path}: {exc}") from None
    return parse_mapping(text, str(path))
