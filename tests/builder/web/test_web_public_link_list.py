"""docs/public-forms.md:38-39: the record's page lists its links (in use, used, expired, revoked), with a
**Revoke** button for live ones only."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from clinic_fixtures import csrf_of

ITEM = re.compile(r"<li>(.*?)</li>", re.S)


def test_the_record_page_lists_each_links_state_and_revokes_only_live_ones(clinic):
    desk = clinic.app.state.public_desk
    form = desk.form("home_reading")
    once = dataclasses.replace(form, public=form.public.model_copy(update={"reuse": False}))
    patient = clinic.data["patients"][0]["id"]
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=31)
    _, live = desk.tokens.issue(form, patient, "doctor")
    used, _ = desk.tokens.issue(once, patient, "doctor")
    desk.tokens.issue(form, patient, "doctor", now=long_ago)
    _, revoked = desk.tokens.issue(form, patient, "doctor")
    anonymous = clinic._client({"accept-language": "en"})
    opened = anonymous.get(f"/f/{used}")
    sent = anonymous.post(f"/f/{used}", data={"systolic": "120", "diastolic": "80", "csrf_token": csrf_of(opened.text)})
    assert sent.status_code == 303
    doctor = clinic.login("doctor")
    page = doctor.get(f"/records/patient/{patient}")
    gone = doctor.post(
        f"/records/patient/{patient}/public-links/{revoked}/revoke", data={"csrf_token": csrf_of(page.text)}
    )
    assert gone.status_code == 303

    section = (
        doctor.get(f"/records/patient/{patient}").text.split('class="panel public-links"')[1].split("</section>")[0]
    )
    items = ITEM.findall(section)
    states = sorted(re.search(r"<strong>([^<]+)</strong>", item).group(1) for item in items)
    assert states == ["expired", "in use", "revoked", "used"]
    revocable = [item for item in items if "/revoke" in item]
    assert len(revocable) == 1 and "<strong>in use</strong>" in revocable[0]
    assert f"/public-links/{live}/revoke" in revocable[0]
