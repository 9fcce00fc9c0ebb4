""" "Why?": a computed value explains itself in the record page and in the API (`?explain=1`)."""

from __future__ import annotations


def test_api_explains_a_decision(clinic):
    vital = clinic.data["vital"]
    plain = clinic.api("nurse").get(f"/api/vital_reading/{vital['id']}")
    assert plain.status_code == 200 and "_explain" not in plain.json()
    response = clinic.api("nurse").get(f"/api/vital_reading/{vital['id']}?explain=1")
    assert response.status_code == 200
    why = response.json()["_explain"]["risk"]
    assert why["value"] == "elevated" and why["reads"] == {"systolic": 150, "diastolic": 95}
    decision = why["decisions"][0]
    assert decision["table"] == "bp_risk" and decision["chosen"] == 3
    assert [row["row"] for row in decision["rows"] if row["matched"]] == [3, 4, 5]


def test_age_explains_the_birth_date_it_read(clinic):
    patient = clinic.data["patients"][0]
    why = clinic.api("doctor").get(f"/api/patient/{patient['id']}?explain=1").json()["_explain"]
    assert why["age"]["reads"] == {"birth_date": "1960-05-01"}


def test_record_page_has_a_why_section(clinic):
    vital = clinic.data["vital"]
    page = clinic.login("nurse").get(f"/records/vital_reading/{vital['id']}")
    assert page.status_code == 200
    assert '<details class="why">' in page.text and "bp_risk" in page.text
    assert "systolic &gt;= 140" in page.text and "<td>High</td>" in page.text  # option labels, not codes


def test_explain_is_refused_where_reading_is(clinic):
    vital = clinic.data["vital"]
    assert clinic.api("front_desk").get(f"/api/vital_reading/{vital['id']}?explain=1").status_code == 403


def test_a_bad_explain_value_is_a_400(clinic):
    vital = clinic.data["vital"]
    response = clinic.api("nurse").get(f"/api/vital_reading/{vital['id']}?explain=yes")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "explain"
