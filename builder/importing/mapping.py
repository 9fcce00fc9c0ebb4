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


class ImportMapping(BaseModel):
    """A whole mapping: the entity, its fields' columns, and how duplicates are found and treated."""

    model_config = ConfigDict(extra="forbid")

    entity: str
    fields: dict[str, ColumnRule]
    match: list[list[str]] = []
    on_duplicate: Duplicates = "skip"

    @field_validator("fields", mode="before")
    @classmethod
    def _columns(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: ({"column": str(v)} if isinstance(v, (str, int)) else v) for k, v in value.items() if v is not None}

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
                problems.append(f"`{name}` holds child rows; import them as their own file (not supported yet)")
            if spec.type == "link" and rule.by is not None:
                target = entities.get(spec.to or "")
                if target is not None and rule.by not in target.fields and rule.by != "id":
                    problems.append(f"`{name}`: `{spec.to}` has no field `{rule.by}` to find it by")
            elif rule.by is not None:
                problems.append(f"`{name}`: `by` is only for link fields")
            if columns is not None and rule.column not in columns:
                problems.append(f"`{name}`: the file has no column `{rule.column}` (columns: {', '.join(columns)})")
        for fields in self.match:
            for field_name in fields:
                if field_name not in entity.fields:
                    problems.append(f"match: `{self.entity}` has no field `{field_name}`")
                elif field_name not in self.fields:
                    problems.append(f"match: `{field_name}` is not filled from any column")
        if problems:
            raise ImportFailed("the mapping cannot be used: " + "; ".join(problems))

    def to_yaml(self) -> str:
        """The mapping as an editable YAML file (short forms where a field needs nothing but its column)."""
        columns: dict[str, Any] = {}
        for name, rule in self.fields.items():
            extra = rule.model_dump(exclude_defaults=True, exclude={"column"})
            if "format" in extra and len(extra["format"]) == 1:
                extra["format"] = extra["format"][0]
            if rule.values:
                extra["values"] = rule.values  # kept even when empty entries wait to be filled in
            columns[name] = {"column": rule.column, **extra} if extra else rule.column
        document = {"entity": self.entity, "fields": columns}
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)
        rules = ["[" + ", ".join(rule) + "]" for rule in self.match]
        match = rules[0] if len(rules) == 1 else "[" + ", ".join(rules) + "]"
        return text + f"match: {match}\non_duplicate: {self.on_duplicate}\n"


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
