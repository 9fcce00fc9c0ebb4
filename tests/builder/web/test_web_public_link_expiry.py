"""docs/public-forms.md:18: a patient link lasts `expires`, by default 7 days (the clinic's forms all name theirs)."""

from __future__ import annotations

import datetime as dt

from clinic_fixtures import csrf_of

from builder.public_forms.catalog import public_forms
from engines.forms import PublicSpec


def test_a_patient_link_without_expires_lasts_seven_days(clinic):
    desk = clinic.app.state.public_desk
    blueprint = clinic.runtime.blueprint
    declared = blueprint.forms["home_reading"]
    public = declared.public.model_dump(exclude_unset=True)
    assert public.pop("expires") == "30d"  # the template names 30 days: take it away
    bare = declared.model_copy(update={"public": PublicSpec.model_validate(public)})
    form = public_forms(blueprint.model_copy(update={"forms": {"home_reading": bare}}))["home_reading"]
    patient = clinic.data["patients"][0]["id"]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    fresh, _ = desk.tokens.issue(form, patient, "doctor")
    almost, _ = desk.tokens.issue(form, patient, "doctor", now=now - dt.timedelta(days=6, hours=23))
    stale, _ = desk.tokens.issue(form, patient, "doctor", now=now - dt.timedelta(days=7, minutes=1))

    row = desk.tokens.check(fresh)
    assert row.expires_at - row.created_at == dt.timedelta(days=7)
    anonymous = clinic._client({"accept-language": "en"})
    open_page = anonymous.get(f"/f/{almost}")
    assert open_page.status_code == 200
    page = anonymous.get(f"/f/{stale}")
    assert page.status_code == 410 and "expired" in page.text
    posted = anonymous.post(f"/f/{stale}", data={"systolic": "120", "csrf_token": csrf_of(open_page.text)})
    assert posted.status_code == 410 and "expired" in posted.text
