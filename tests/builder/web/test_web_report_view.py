"""How the pages present report kinds the engine will add: heat maps, forecast rows, period-over-period change.

Results are built by hand in the engine's own `ReportResult` shape (the clinic's
entities give the dimensions' labels), so these cells are what a future cohort,
forecast or weekday-by-hour report hands the pages.
"""

from __future__ import annotations

import pytest
from clinic_fixtures import build_runtime

from builder.web.reports.dashboards import kpi_of
from builder.web.reports.view import build_view, embedded_json
from engines.reports import CardSpec, ReportResult, ReportSpec, ResultColumn, Suppressed


@pytest.fixture
def service(tmp_path, sqlite_url):
    runtime = build_runtime(tmp_path / "project", sqlite_url)
    try:
        yield runtime.records
    finally:
        runtime.close()


def _spec(**chart) -> ReportSpec:
    return ReportSpec.model_validate(
        {
            "source": "appointment",
            "dimensions": [{"field": "starts_at", "by": "week", "name": "week"}, "channel"],
            "measures": {"booked": {"agg": "count", "format": "integer"}},
            "chart": chart,
        }
    )


COLUMNS = [
    ResultColumn("week", "dimension"),
    ResultColumn("channel", "dimension"),
    ResultColumn("booked", "measure", format="integer"),
]


def test_a_heat_map_is_x_y_and_a_value_and_hidden_cells_are_gaps(service):
    rows = [
        {"week": "2026-W10", "channel": "phone", "booked": 12},
        {"week": "2026-W10", "channel": "wechat", "booked": Suppressed(5)},
        {"week": "2026-W11", "channel": "phone", "booked": 7},
    ]
    view = build_view(
        service,
        "load",
        _spec(type="heatmap", x="week", y="booked", series="channel"),
        ReportResult(COLUMNS, rows),
        "en",
    )
    chart = view.chart
    assert chart["categories"] == ["Week 10, 2026", "Week 11, 2026"]
    assert chart["rows"] == ["Phone", "WeChat"]
    assert [cell[:3] for cell in chart["cells"]] == [[0, 0, 12], [0, 1, None], [1, 0, 7]]
    assert (chart["min"], chart["max"]) == (7, 12)
    assert [c.text for c in view.rows[1].cells] == ["Week 10, 2026", "WeChat", "<5"]


def test_forecast_rows_are_flagged_for_a_dashed_line_and_marked_in_the_table(service):
    columns = [
        ResultColumn("week", "dimension"),
        ResultColumn("booked", "measure", format="integer"),
        ResultColumn("forecast", "measure"),
    ]
    rows = [
        {"week": "2026-W10", "booked": 30, "forecast": False},
        {"week": "2026-W11", "booked": 33, "forecast": True},
    ]
    spec = ReportSpec.model_validate(
        {
            "source": "appointment",
            "dimensions": [{"field": "starts_at", "by": "week", "name": "week"}],
            "measures": {"booked": {"agg": "count"}},
            "chart": {"type": "line"},
        }
    )
    view = build_view(service, "ahead", spec, ReportResult(columns, rows), "zh-CN")
    assert [c.label for c in view.columns] == ["开始时间", "Booked"]  # the flag is no column of its own
    assert [r.forecast for r in view.rows] == [False, True]
    series = view.chart["series"][0]
    assert series["data"] == [30, 33] and series["forecast"] == [False, True] and view.chart["has_forecast"]
    assert view.chart["categories"] == ["2026年第10周", "2026年第11周"]


def test_a_kpi_shows_the_change_over_the_previous_period_when_the_result_has_it():
    columns = [ResultColumn("rate", "measure", format="percent"), ResultColumn("rate__change", "measure")]
    result = ReportResult(columns, [{"rate": 0.25, "rate__change": -0.05}], totals={"rate": 0.2, "rate__change": -0.05})
    assert kpi_of(result, "rate", "en") == ("20.0%", False, "▼ 5.0%", False)
    hidden = ReportResult(columns[:1], [], totals={"rate": Suppressed(5)})
    assert kpi_of(hidden, "rate", "en") == ("<5", True, "", None)


def test_embedded_json_cannot_close_its_script_tag():
    text = embedded_json({"name": "</script><script>alert(1)</script> & more"})
    assert "<" not in text and ">" not in text and "&" not in text


def test_a_card_measure_picks_the_series(service):
    rows = [{"week": "2026-W10", "channel": "phone", "booked": 3}]
    card = CardSpec(report="x", measure="booked", chart="bar")
    view = build_view(service, "x", _spec(type="line"), ReportResult(COLUMNS, rows), "en", card=card)
    assert view.chart_type == "bar" and view.chart["series"][0]["name"] == "Phone"
