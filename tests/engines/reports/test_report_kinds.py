"""Heat maps, period-over-period, subtotals, pivot, cohorts and forecasts against cells computed by hand.

Each test runs on SQLite and on PostgreSQL (the `engine` fixture) and both must
give the very cells written here. Today is 2026-04-15 (a Wednesday).
"""

from __future__ import annotations

import datetime as dt

from reports_helpers import APPOINTMENTS, CLINIC_ROWS, PATIENTS, STAFF, VISITS, T, cells, clinic_database, run

from engines.reports import ReportSpec, Suppressed

Q1 = "2026-01-01..2026-03-31"


def spec(**body) -> ReportSpec:
    return ReportSpec.model_validate(body)


def test_appointment_load_fills_every_weekday_and_hour(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "appointment_load", params={"period": "2026-03-01..2026-03-31"})
    assert len(result.rows) == 7 * 24
    assert [(r["weekday"], r["hour"]) for r in result.rows[:2]] == [(1, 0), (1, 1)]  # Monday 00:00 first
    busy = {(r["weekday"], r["hour"]): r["appointments"] for r in result.rows if r["appointments"]}
    # Monday 2 March 09:00 and Monday 9 March 00:00; Wednesdays 4 and 11 March 09:00; Thursday 12 March;
    # Sundays 1 March 23:00 and 8 March 23:59; the cancelled Tuesday is not counted.
    assert busy == {(1, 9): 1, (1, 0): 1, (3, 9): 2, (4, 9): 1, (7, 23): 2}
    weekday = next(c for c in result.columns if c.name == "weekday")
    assert weekday.labels is not None
    assert weekday.labels[1] == {"en": "Monday", "zh-CN": "星期一"} and weekday.labels[7]["zh-CN"] == "星期日"
    hour = next(c for c in result.columns if c.name == "hour")
    assert hour.labels is not None and hour.labels[9] == "09:00"


def test_a_date_field_by_weekday(engine):
    schema = clinic_database(engine)
    report = spec(
        source="follow_up", dimensions=[{"field": "due_on", "by": "weekday"}], measures={"n": {"agg": "count"}}
    )
    assert cells(run(engine, schema, report)) == [(1, 0), (2, 0), (3, 0), (4, 2), (5, 2), (6, 1), (7, 1)]


def test_change_on_the_month_before_and_the_year_before(engine):
    visits = [*VISITS, {"id": 8, "patient": 1, "doctor": 1, "visited_at": T("2025-03-10T09:00")}]
    schema = clinic_database(engine, {**CLINIC_ROWS, "visit": visits})
    result = run(engine, schema, "visits_trend", params={"period": "2026-02-01..2026-03-31"})
    assert cells(result, "month", "visits", "vs_last_month", "vs_last_year") == [
        ("2026-02", 3, 0.0, None),  # January (outside the range) had 3 too; February 2025 had none
        ("2026-03", 1, -0.666666667, 0.0),  # 1 against February's 3; March 2025 had 1
    ]
    assert result.previous_period == (dt.date(2025, 12, 1), dt.date(2026, 1, 31))  # two months before
    assert result.period == (dt.date(2026, 2, 1), dt.date(2026, 3, 31))
    assert result.previous == {"visits": 3}  # December and January
    assert result.totals == {"visits": 4, "vs_last_month": 0.333333333, "vs_last_year": 0.333333333}
    assert result.changes == {"visits": 0.333333333}


def test_kpi_change_of_a_rate_is_in_points(engine):
    february = [
        {"id": 20 + i, "patient": 1, "doctor": 1, "starts_at": T(f"2026-02-0{i + 2}T09:00"), "status": status}
        for i, status in enumerate(["completed", "completed", "no_show", "checked_in"])
    ]
    schema = clinic_database(engine, {**CLINIC_ROWS, "appointment": [*APPOINTMENTS, *february]})
    result = run(engine, schema, "no_show_rate", params={"period": "2026-03-01..2026-03-31"})
    assert result.totals is not None and result.previous is not None and result.changes is not None
    assert (result.totals["due"], result.totals["no_shows"], result.totals["no_show_rate"]) == (6, 3, 0.5)
    assert (result.previous["due"], result.previous["no_shows"], result.previous["no_show_rate"]) == (4, 1, 0.25)
    assert result.changes["no_show_rate"] == 0.25  # 50% against 25%: up 25 points
    assert result.changes["due"] == 0.5  # 6 against 4: up 50%
    assert result.previous_period == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))


def test_subtotals_count_distinct_patients_in_sql(engine):
    visits = [*VISITS, {"id": 8, "patient": 1, "doctor": 2, "visited_at": T("2026-01-25T09:00")}]
    schema = clinic_database(engine, {**CLINIC_ROWS, "visit": visits})
    report = spec(
        source="visit",
        dimensions=[{"field": "visited_at", "by": "month", "name": "month"}, "doctor"],
        measures={"visits": {"agg": "count"}, "patients": {"agg": "count_distinct", "field": "patient"}},
        parameters={"period": {"type": "date_range", "field": "visited_at"}},
        subtotals=True,
        totals=True,
    )
    result = run(engine, schema, report, params={"period": Q1})
    assert [(r["month"], r["doctor"], r.get("_subtotal"), r["visits"], r["patients"]) for r in result.rows] == [
        ("2026-01", 1, None, 3, 2),
        ("2026-01", 2, None, 1, 1),
        ("2026-01", None, "month", 4, 2),  # patient 1 saw both doctors: two patients, not three
        ("2026-02", 1, None, 0, 0),
        ("2026-02", 2, None, 3, 2),
        ("2026-02", None, "month", 3, 2),
        ("2026-03", 1, None, 0, 0),
        ("2026-03", 2, None, 1, 1),
        ("2026-03", None, "month", 1, 1),
    ]
    assert result.totals == {"visits": 8, "patients": 4}


def test_subtotals_by_a_named_dimension_come_last(engine):
    schema = clinic_database(engine)
    report = spec(
        source="visit",
        dimensions=[{"field": "visited_at", "by": "month", "name": "month"}, "doctor"],
        measures={"visits": {"agg": "count"}},
        parameters={"period": {"type": "date_range", "field": "visited_at"}},
        subtotals=["doctor"],
    )
    result = run(engine, schema, report, params={"period": Q1})
    subtotals = [(r["doctor"], r["doctor__title"], r["visits"]) for r in result.rows if r.get("_subtotal")]
    assert subtotals == [(1, "Dr Li", 3), (2, "Dr Wang", 4)]
    assert all(r.get("_subtotal") for r in result.rows[-2:])


def test_pivot_turns_channels_into_columns(engine):
    schema = clinic_database(engine)
    report = clinic_spec("new_patients", pivot="channel")
    result = run(engine, schema, report, params={"period": Q1})
    assert [c.name for c in result.columns] == [
        "month",
        "new_patients__walk_in",
        "new_patients__wechat",
        "new_patients__web",
    ]
    assert cells(result) == [("2026-01", 1, 2, 0), ("2026-02", 0, 0, 1), ("2026-03", 2, 0, 0)]
    wechat = result.columns[2]
    assert wechat.label == {"en": "WeChat", "zh-CN": "微信"} and wechat.format == "integer"
    assert result.totals == {"new_patients": 6}


def test_pivot_by_a_link_is_labelled_by_titles(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, clinic_spec("revisit_rate", pivot="doctor"), params={"period": Q1})
    names = [c.name for c in result.columns]
    assert names[:4] == ["month", "visits__1", "patients__1", "revisit_rate__1"]
    assert result.columns[1].label == {"en": "Dr Li · Visits", "zh-CN": "Dr Li · 就诊人次"}
    assert cells(result, "month", "visits__1", "visits__2") == [("2026-01", 3, 0), ("2026-02", 0, 3), ("2026-03", 0, 1)]


def clinic_spec(name: str, **changes) -> ReportSpec:
    from reports_helpers import clinic

    return clinic().blueprint.reports[name].model_copy(update=changes)


COHORT = [
    ("2026-01", 0, 2, 2, 1.0),  # patients 1 and 2 first came in January
    ("2026-01", 1, 2, 1, 0.5),  # patient 2 came back in February
    ("2026-01", 2, 2, 0, 0.0),
    ("2026-01", 3, 2, 0, 0.0),  # April is this month: the triangle ends here
    ("2026-02", 0, 1, 1, 1.0),  # patient 3
    ("2026-02", 1, 1, 0, 0.0),  # 1 March 00:00 is patient 4's, not patient 3's
    ("2026-02", 2, 1, 0, 0.0),
    ("2026-03", 0, 1, 1, 1.0),  # patient 4, at 00:00 on 1 March
    ("2026-03", 1, 1, 0, 0.0),
]


def test_first_visit_cohort(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "first_visit_cohort", params={"period": Q1})
    assert cells(result, "cohort", "period", "cohort_size", "active", "retention") == COHORT
    assert [c.name for c in result.columns] == ["cohort", "period", "cohort_size", "active", "retention"]
    assert result.period == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def test_a_cohort_counts_only_subjects_and_events_the_viewer_may_see(engine):
    schema = clinic_database(engine)

    def row_filter(entity, table):
        if entity == "patient":
            return table.c.id != 2  # patient 2 hidden: January's cohort is patient 1 alone
        if entity == "visit":
            return table.c.id != 7  # visit 7 hidden: patient 4 has no visit, so no cohort in March
        return None

    result = run(engine, schema, "first_visit_cohort", params={"period": Q1}, row_filter=row_filter)
    found = cells(result, "cohort", "period", "cohort_size", "active")
    assert found[:4] == [("2026-01", 0, 1, 1), ("2026-01", 1, 1, 0), ("2026-01", 2, 1, 0), ("2026-01", 3, 1, 0)]
    assert ("2026-03", 0, 0, 0) in found


def test_a_private_cohort_hides_small_cohorts(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "first_visit_cohort", params={"period": Q1}, private=True)
    assert all(isinstance(r["active"], Suppressed) or r["active"] == 0 for r in result.rows)
    assert all(isinstance(r["cohort_size"], Suppressed) for r in result.rows if r["cohort_size"] != 0)
    assert result.suppressed > 0


def mondays() -> list[dict]:
    rows, number, day, index = [], 1, dt.date(2026, 1, 19), 0
    while day < dt.date(2026, 4, 15):
        for _ in range(2 if index % 2 == 0 else 4):
            rows.append({"id": number, "patient": 1, "doctor": 1, "status": "completed",
                         "starts_at": dt.datetime.combine(day, dt.time(9, number % 60))})  # fmt: skip
            number += 1
        day, index = day + dt.timedelta(days=7), index + 1
    return rows


def test_forecast_by_weekday_and_its_backtest(engine):
    schema = clinic_database(engine, {"staff": STAFF, "patient": PATIENTS[:1], "appointment": mondays()})
    result = run(engine, schema, "appointments_forecast", params={"period": "2026-01-01..2026-04-14"})
    actual = [r for r in result.rows if not r["forecast"]]
    future = [r for r in result.rows if r["forecast"]]
    assert len(actual) == 104 and len(future) == 28
    assert future[0]["day"] == "2026-04-15" and future[-1]["day"] == "2026-05-12"
    by_day = {r["day"]: r["appointments"] for r in future}
    assert by_day["2026-04-20"] == 3.0  # the last 8 Mondays: 4, 2, 4, 2, 4, 2, 4, 2
    assert by_day["2026-04-21"] == 0.0  # no Tuesday had any
    assert result.forecast is not None
    # Held out 18 March - 14 April, forecast from the 8 weeks before: 3 each Monday against 4, 2, 4, 2.
    assert (result.forecast.mae, result.forecast.mape, result.forecast.backtest_buckets) == (0.14, 0.375, 28)
    assert any("average of the same weekday over the last 8 weeks" in note for note in result.notes)
    assert next(c for c in result.columns if c.name == "forecast").kind == "flag"


def test_a_private_forecast_hides_what_a_hidden_cell_would_give_back(engine):
    schema = clinic_database(engine, {"staff": STAFF, "patient": PATIENTS[:1], "appointment": mondays()})
    result = run(engine, schema, "appointments_forecast", params={"period": "2026-01-01..2026-04-14"}, private=True)
    future = {r["day"]: r["appointments"] for r in result.rows if r["forecast"]}
    assert isinstance(future["2026-04-20"], Suppressed)  # Mondays of 2 and 4 are hidden
    assert future["2026-04-21"] == 0.0  # zeros are never hidden
    assert result.forecast is not None and result.forecast.mae is None


def test_a_private_change_hides_where_its_measure_is_hidden(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "visits_trend", params={"period": "2026-02-01..2026-03-31"}, private=True)
    for row in result.rows:
        assert isinstance(row["visits"], Suppressed) == isinstance(row["vs_last_month"], Suppressed)
    assert isinstance(result.rows[0]["vs_last_month"], Suppressed)


def test_the_queries_read_no_row_per_record_in_python(engine):
    """Guard: the new kinds still compile to SQL (the cohort to one query with its CTEs)."""
    from reports_helpers import TODAY, clinic

    from engines.reports import compile_report

    schema = clinic_database(engine)
    compiled = compile_report(
        "first_visit_cohort",
        clinic().blueprint.reports["first_visit_cohort"],
        clinic().blueprint.entities,
        schema=schema.table,
        dialect=engine.dialect.name,
        today=TODAY,
        params={"period": Q1},
    )
    text = str(compiled.cohort.query.compile(dialect=engine.dialect))
    assert text.startswith("WITH cohort_events AS") and "cohort_firsts AS" in text


def test_a_weekly_forecast_continues_a_series_that_ended_before_today(engine):
    schema = clinic_database(engine, {"staff": STAFF, "patient": PATIENTS[:1], "appointment": mondays()})
    report = spec(
        source="appointment",
        dimensions=[{"field": "starts_at", "by": "week", "name": "week"}],
        measures={"n": {"agg": "count"}},
        parameters={"period": {"type": "date_range", "field": "starts_at"}},
        forecast={"periods": 2, "season": "none", "history": 4},
    )
    result = run(engine, schema, report, params={"period": "2026-01-19..2026-03-15"})  # weeks 4 to 11
    future = [(r["week"], r["n"]) for r in result.rows if r["forecast"]]
    assert future == [("2026-W12", 3.0), ("2026-W13", 3.0)]  # weeks 8-11 had 2, 4, 2, 4
    # held out weeks 8-11, forecast from weeks 4-7 (2, 4, 2, 4): 3 each, off by 1 every week: MAPE (1/2 + 1/4) / 2
    assert result.forecast is not None
    assert (result.forecast.mae, result.forecast.mape, result.forecast.backtest_buckets) == (1.0, 0.375, 4)


def test_a_pivot_with_subtotals_gets_a_total_column(engine):
    visits = [*VISITS, {"id": 8, "patient": 1, "doctor": 2, "visited_at": T("2026-01-25T09:00")}]
    schema = clinic_database(engine, {**CLINIC_ROWS, "visit": visits})
    report = spec(
        source="visit",
        dimensions=[{"field": "visited_at", "by": "month", "name": "month"}, "doctor"],
        measures={"patients": {"agg": "count_distinct", "field": "patient"}},
        parameters={"period": {"type": "date_range", "field": "visited_at"}},
        subtotals=True,
        pivot="doctor",
    )
    result = run(engine, schema, report, params={"period": Q1})
    assert [c.name for c in result.columns] == ["month", "patients__1", "patients__2", "patients__total"]
    assert result.columns[-1].label == {"en": "Total", "zh-CN": "合计"}
    assert cells(result) == [("2026-01", 2, 1, 2), ("2026-02", 0, 2, 2), ("2026-03", 0, 1, 1)]  # distinct, in SQL


def test_a_boolean_dimension_reads_yes_and_no(engine):
    schema = clinic_database(engine)
    report = spec(source="patient", dimensions=["consent_marketing"], measures={"n": {"agg": "count"}})
    result = run(engine, schema, report)
    assert cells(result) == [(False, 2), (True, 4)]
    assert result.columns[0].labels == {True: {"en": "yes", "zh-CN": "是"}, False: {"en": "no", "zh-CN": "否"}}


def test_the_period_before_is_of_equal_length():
    from engines.reports.compiler import _period_before
    from engines.reports.periods import period_range

    today = dt.date(2026, 4, 15)

    def before(value: str, how: str = "previous") -> tuple[dt.date, dt.date]:
        start, end = period_range(value, today)
        assert start is not None and end is not None
        first, after = _period_before(start, end, how)
        return first, after - dt.timedelta(days=1)

    assert before("today") == (dt.date(2026, 4, 14), dt.date(2026, 4, 14))
    assert before("last_30_days") == (dt.date(2026, 2, 15), dt.date(2026, 3, 16))
    assert before("this_month") == (dt.date(2026, 3, 1), dt.date(2026, 3, 31))  # a whole month, not 30 days
    assert before("last_3_months") == (dt.date(2025, 11, 1), dt.date(2026, 1, 31))
    assert before("this_month", "year_before") == (dt.date(2025, 4, 1), dt.date(2025, 4, 30))
    assert before("2024-02-29..2024-03-01", "year_before") == (dt.date(2023, 2, 28), dt.date(2023, 3, 1))


def test_comparator_buckets():
    from engines.reports.comparison import comparator

    assert comparator(dt.date(2026, 1, 1), "month", "previous") == dt.date(2025, 12, 1)
    assert comparator(dt.date(2026, 1, 1), "quarter", "previous") == dt.date(2025, 10, 1)
    assert comparator(dt.date(2026, 3, 2), "week", "year_before") == dt.date(2025, 3, 3)  # ISO week 10 of 2025
    assert comparator(dt.date(2026, 12, 28), "week", "year_before") == dt.date(2025, 12, 22)  # week 53: 2025's 52nd
    assert comparator(dt.date(2028, 2, 29), "day", "year_before") == dt.date(2027, 2, 28)


def test_reports_that_work_across_groups_say_so(engine):
    """Paging or streaming `compiled.query` would skip this work: such reports run whole."""
    from reports_helpers import TODAY, clinic

    from engines.reports import compile_report

    schema = clinic_database(engine)
    blueprint = clinic().blueprint

    def compiled(name, **changes):
        spec = blueprint.reports[name].model_copy(update=changes)
        return compile_report(
            name, spec, blueprint.entities, schema=schema.table, dialect=engine.dialect.name, today=TODAY,
            private=False,
        )  # fmt: skip

    for name in (
        "appointment_load",
        "appointments_forecast",
        "visits_trend",
        "first_visit_cohort",
        "appointments_today",
    ):
        assert compiled(name).runs_whole, name
    assert not compiled("follow_up_completion", compare=None).runs_whole  # sorted, no kinds: pages in SQL
