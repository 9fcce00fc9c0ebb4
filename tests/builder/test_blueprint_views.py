"""`views:` on an entity: every wrong name or unsuitable field is reported at its file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BlueprintError
from builder.loading import load_blueprint

HEAD = """app: {name: demo}
roles:
  desk: {}
entities:
  staff:
    fields:
      name: {type: text}
  appointment:
    fields:
      doctor: {type: link, to: staff}
      starts_at: {type: datetime, index: true}
      minutes: {type: integer}
      note: {type: text}
      phone: {type: phone, sensitive: true}
      status: {type: select, options: [booked, done]}
    views:
"""


def problems(tmp_path: Path, monkeypatch, views: str) -> list[str]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bp.yaml").write_text(HEAD + views, encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(Path("bp.yaml"))
    return [str(p) for p in caught.value.problems]


def test_good_views_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (
        "      list: {columns: [starts_at, doctor, status], sort: -starts_at, page_size: 25,"
        " filters: [starts_at, doctor, status]}\n"
        "      today: {columns: [starts_at, doctor], sort: starts_at}\n"
        "      calendar: {start: starts_at, minutes: minutes, group_by: doctor}\n"
        "      kanban: {by: status, card: [starts_at]}\n"
    )
    (tmp_path / "bp.yaml").write_text(HEAD + text, encoding="utf-8")
    views = load_blueprint(Path("bp.yaml")).blueprint.entities["appointment"].views
    assert {name: view.kind(name) for name, view in views.items()} == {
        "list": "list",
        "today": "list",
        "calendar": "calendar",
        "kanban": "kanban",
    }


def test_list_view_mistakes_are_located(tmp_path, monkeypatch):
    found = problems(
        tmp_path,
        monkeypatch,
        "      list: {columns: [starts, doctor], sort: phone, filters: [note, status], by: status}\n",
    )
    assert found == [
        "bp.yaml:17:24: unknown field `starts` (did you mean `status`?) [view.unknown_field]",
        "bp.yaml:17:41: records cannot be sorted by `phone` (sort by a stored field that is not sensitive, encrypted,"
        " multi-select or long text) [view.bad_sort]",
        "bp.yaml:17:64: `note` cannot be a quick filter (quick filters are dates, selects, states, yes/no and links"
        " (not sensitive or encrypted fields); text is found with the search box) [view.bad_filter]",
        "bp.yaml:17:79: `by` belongs to a kanban view, and `list` is a list view (a list view takes: columns, sort,"
        " page_size, filters) [view.wrong_key]",
    ]


def test_calendar_and_kanban_mistakes_are_located(tmp_path, monkeypatch):
    found = problems(
        tmp_path,
        monkeypatch,
        "      calendar: {start: note, minutes: note, group_by: minutes}\n"
        "      kanban: {by: doctor}\n"
        "      board: {type: kanban}\n",
    )
    assert [f.split(": ", 1)[1] for f in found] == [
        "`note` is a `text` field, not a datetime [view.bad_start]",
        "`note` is a `text` field, not an integer [view.bad_minutes]",
        "a calendar cannot have a column per `minutes` (group by a link, select or state field) [view.bad_group_by]",
        "a kanban needs a select or state field; `doctor` is a `link` field [view.bad_by]",
        "a kanban view needs `by:` (a select or state field) [view.missing_by]",
    ]
    assert found[0].startswith("bp.yaml:17:18:")
