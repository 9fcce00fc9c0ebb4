"""Read blueprint files into plain data while remembering where every node came from.

YAML (and JSON, read by the same loader: JSON is YAML's subset for our purposes) is
composed into nodes so each key and value keeps its file, line and column. A
directory of files is merged section by section (`entities/patient.yaml` may hold
just the patient entity), so a split blueprint reports errors in the right file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import BlueprintError, LocatedProblem, Position, relative

Path_ = tuple[str | int, ...]
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Source:
    """Blueprint data plus the position of every node, keyed by its path."""

    data: dict[str, Any] = field(default_factory=dict)
    positions: dict[Path_, Position] = field(default_factory=dict)
    value_positions: dict[Path_, Position] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def value_position(self, loc: Path_, offset: int = 0) -> Position:
        """Where the value at `loc` starts (inside its quotes), moved `offset` characters on."""
        pos = self.value_positions.get(tuple(loc))
        if pos is None:
            return self.position(loc)
        return Position(pos.file, pos.line, pos.column + offset)

    def position(self, loc: Path_) -> Position:
        """The position of `loc`, or of its nearest located ancestor."""
        loc = tuple(loc)
        while loc:
            if loc in self.positions:
                return self.positions[loc]
            loc = loc[:-1]
        return self.positions.get((), Position(self.files[0] if self.files else "<blueprint>", 1, 1))


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _fail(file: str, mark: Any, code: str, message: str, hint: str | None = None) -> BlueprintError:
    pos = Position(file, (mark.line + 1) if mark else 1, (mark.column + 1) if mark else 1)
    return BlueprintError([LocatedProblem(pos, code, message, hint)])


def _syntax_error(file: str, exc: yaml.MarkedYAMLError) -> BlueprintError:
    """Where the parser gave up, and (as the hint) what it was reading, e.g. where an unclosed `{` opened."""
    mark = exc.problem_mark or exc.context_mark
    language = "JSON" if file.endswith(".json") else "YAML"
    problem = (exc.problem or exc.context or "cannot be read").replace("'<stream end>'", "the end of the file")
    if "expected <block end>" in problem:
        problem = "bad indentation: this line is not lined up with the keys around it"
    elif "'\\t'" in problem:
        problem = "a tab cannot indent YAML; use spaces"
    hint = None
    if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
        where = f"line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        bracket = "{" if "flow mapping" in exc.context else "[" if "flow sequence" in exc.context else None
        if bracket:
            hint = f"the `{bracket}` at {where} is not closed"
        elif "block mapping" in exc.context:
            hint = f"the mapping it belongs to starts at {where}"
        else:
            hint = f"{exc.context} at {where}"
    return _fail(file, mark, "yaml.syntax", f"invalid {language}: {problem}", hint)


def _build(
    node: yaml.Node, loader: _Loader, file: str, path: Path_, source: Source, problems: list[LocatedProblem]
) -> Any:
    positions = source.positions
    positions[path] = Position(file, node.start_mark.line + 1, node.start_mark.column + 1)
    quoted = isinstance(node, yaml.ScalarNode) and node.style in ("'", '"')
    source.value_positions[path] = Position(file, node.start_mark.line + 1, node.start_mark.column + 1 + quoted)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, bool)) or isinstance(key, bool):
                key = str(key)
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                pos = Position(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                problems.append(LocatedProblem(pos, "yaml.duplicate_key", f"`{key}` is defined twice here"))
                continue
            result[key] = _build(value_node, loader, file, path + (key,), source, problems)
            # Point key-level errors (unknown key, wrong type) at the key itself.
            positions[path + (key,)] = Position(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, loader, file, path + (i,), source, problems) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_file(path: Path) -> Source:
    """Parse one YAML or JSON file into a Source; syntax errors are BlueprintErrors."""
    file = relative(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BlueprintError(
            [LocatedProblem(Position(file, 1, 1), "file.unreadable", f"cannot read file: {exc}")]
        ) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(file, exc) from None
    except yaml.YAMLError as exc:
        raise _fail(file, None, "yaml.syntax", f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    source = Source(files=[file])
    source.positions[()] = Position(file, 1, 1)
    if node is None:
        return source
    if not isinstance(node, yaml.MappingNode):
        raise _fail(file, node.start_mark, "blueprint.not_mapping", "a blueprint file must be a mapping of sections")
    problems: list[LocatedProblem] = []
    loader = _Loader("")
    try:
        source.data = _build(node, loader, file, (), source, problems)
    except yaml.YAMLError as exc:
        raise _fail(file, getattr(exc, "problem_mark", None), "yaml.syntax", f"invalid YAML: {exc}") from None
    if problems:
        raise BlueprintError(problems)
    source.positions[()] = Position(file, 1, 1)
    return source


def _merge(into: Source, part: Source) -> list[LocatedProblem]:
    """Merge `part` into `into` one section level deep; a name defined twice is an error."""
    problems: list[LocatedProblem] = []
    for section, value in part.data.items():
        if section not in into.data:
            into.data[section] = value
            _copy_positions(into, part, (section,))
            continue
        existing = into.data[section]
        if isinstance(existing, dict) and isinstance(value, dict):
            for name, item in value.items():
                if name in existing:
                    first = into.position((section, name))
                    problems.append(
                        LocatedProblem(
                            part.position((section, name)),
                            "blueprint.duplicate",
                            f"`{section}.{name}` is already defined at {first}",
                        )
                    )
                    continue
                existing[name] = item
                _copy_positions(into, part, (section, name))
        elif isinstance(existing, list) and isinstance(value, list):
            offset = len(existing)
            existing.extend(value)
            for mine, theirs in ((into.positions, part.positions), (into.value_positions, part.value_positions)):
                for path, pos in theirs.items():
                    if path[:1] == (section,) and len(path) > 1 and isinstance(path[1], int):
                        mine[(section, path[1] + offset) + path[2:]] = pos
        else:
            problems.append(
                LocatedProblem(
                    part.position((section,)),
                    "blueprint.duplicate",
                    f"section `{section}` is already defined at {into.position((section,))}",
                )
            )
    into.files.extend(part.files)
    return problems


def _copy_positions(into: Source, part: Source, prefix: Path_) -> None:
    for mine, theirs in ((into.positions, part.positions), (into.value_positions, part.value_positions)):
        for path, pos in theirs.items():
            if path[: len(prefix)] == prefix:
                mine[path] = pos


def _blueprint_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


SECTION_FOLDERS = ("entities", "forms", "decision_tables", "workflows", "reports", "dashboards", "notifications")
# The top-level sections of a blueprint: a file in a section folder that holds only these is not wrapped.
SECTIONS = (
    "app",
    "roles",
    "entities",
    "forms",
    "decision_tables",
    "workflows",
    "automations",
    "notifications",
    "reports",
    "dashboards",
)


def _wrap_section_file(part: Source, relative_path: Path) -> Source:
    """`entities/patient.yaml` holding `patient: {...}` means `entities: {patient: {...}}`.

    A file that holds sections itself (`workflows/alerts.yaml` with `automations:`
    and `notifications:`) is taken as it is.
    """
    folder = relative_path.parts[0] if len(relative_path.parts) > 1 else None
    holds_sections = bool(part.data) and all(key in SECTIONS for key in part.data)
    if folder not in SECTION_FOLDERS or folder in part.data or holds_sections:
        return part
    wrapped = Source(data={folder: part.data}, files=part.files)
    wrapped.positions = {(folder,) + loc: pos for loc, pos in part.positions.items()}
    wrapped.value_positions = {(folder,) + loc: pos for loc, pos in part.value_positions.items()}
    wrapped.positions[()] = part.positions[()]
    return wrapped


def load_source(path: Path | str) -> Source:
    """Load a blueprint from one file or a directory of files, merged by section."""
    path = Path(path)
    if not path.exists():
        raise BlueprintError(
            [LocatedProblem(Position(relative(path), 1, 1), "file.missing", "no blueprint file or directory here")]
        )
    if path.is_file():
        return parse_file(path)
    files = _blueprint_files(path)
    if not files:
        raise BlueprintError(
            [
                LocatedProblem(
                    Position(relative(path), 1, 1),
                    "file.missing",
                    "the directory holds no .yaml, .yml or .json blueprint file",
                )
            ]
        )
    merged = Source()
    problems: list[LocatedProblem] = []
    for file in files:
        try:
            part = parse_file(file)
        except BlueprintError as exc:
            problems.extend(exc.problems)
            continue
        part = _wrap_section_file(part, file.relative_to(path))
        if not merged.files:
            merged.positions[()] = part.positions[()]
        problems.extend(_merge(merged, part))
    if problems:
        raise BlueprintError(problems)
    return merged
