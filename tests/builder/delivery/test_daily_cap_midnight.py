"""The daily cap counts messages sent since **local** midnight (docs/workflows.md, Delivering one row).

The clinic is in Shanghai (UTC+8): 07:30 there on 2 March is 23:30 UTC on 1 March.
A cap of one a day must count that early message against the rest of 2 March in
Shanghai, and start afresh at 00:00 on 3 March there (16:00 UTC), not at UTC midnight.
"""

from __future__ import annotations

import datetime as dt

from delivery_helpers import sms
from standins import HttpStandIn

EARLY = dt.datetime(2026, 3, 1, 23, 30)  # 07:30 on 2 March in Shanghai
LATER_THAT_DAY = dt.datetime(2026, 3, 2, 2, 0)  # 10:00 on 2 March: the same local day, the next UTC day
LAST_MINUTE = dt.datetime(2026, 3, 2, 15, 59)  # 23:59 on 2 March
NEXT_DAY = dt.datetime(2026, 3, 2, 16, 0)  # 00:00 on 3 March


def test_the_daily_cap_resets_at_the_clinics_midnight_not_at_utc_midnight(world):
    patient = world.patient(0, consent_sms=True)
    appointment = world.data["appointments"][0]["id"]
    keys = {
        moment: world.add_row(key=f"reminder:{moment:%d%H%M}", record_id=appointment, due=moment)
        for moment in (EARLY, LATER_THAT_DAY, LAST_MINUTE, NEXT_DAY)
    }
    with HttpStandIn() as gateway:
        job = world.job({"sms": sms(gateway.url)}, daily_cap=1, quiet_start=None, quiet_end=None)
        for moment in (EARLY, LATER_THAT_DAY, LAST_MINUTE, NEXT_DAY):
            job(moment)
    outcomes = {moment: (world.row(key).status, world.row(key).reason) for moment, key in keys.items()}
    assert outcomes == {
        EARLY: ("sent", f"to patient {patient['id']}"),
        LATER_THAT_DAY: ("skipped", "daily cap (1) reached"),
        LAST_MINUTE: ("skipped", "daily cap (1) reached"),
        NEXT_DAY: ("sent", f"to patient {patient['id']}"),
    }
    assert sorted(gateway.keys()) == sorted([keys[EARLY], keys[NEXT_DAY]])
