"""Pruning public forms' leftovers, on SQLite and PostgreSQL: links dead (expired, spent, revoked) for longer
than `[public] keep_days` and rate-limit rows past the window go, by the worker's job (hourly) and by
`crm prune-form-links`; everything else stays, and a pruned expired link is still refused as expired."""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa

from builder.system_tables import public_attempts, public_tokens

NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
DAY = dt.timedelta(days=1)


def desk(clinic):
    return clinic.app.state.public_desk


def issue(clinic, at: dt.datetime, reuse: bool = True, **row) -> tuple[str, int]:
    """A home-reading link (30 days) issued at `at`, its row then set to `row` (used_at, revoked_at)."""
    form = desk(clinic).form("home_reading")
    form = dataclasses.replace(form, public=form.public.model_copy(update={"reuse": reuse}))
    token, token_id = desk(clinic).tokens.issue(form, clinic.data["patients"][0]["id"], "doctor", now=at)
    if row:
        with clinic.runtime.engine.begin() as conn:
            conn.execute(public_tokens.update().where(public_tokens.c.id == token_id).values(**row))
    return token, token_id


def link_ids(clinic) -> list[int]:
    with clinic.runtime.engine.connect() as conn:
        return list(conn.execute(sa.select(public_tokens.c.id).order_by(public_tokens.c.id)).scalars())


def attempts(clinic) -> list[str]:
    with clinic.runtime.engine.connect() as conn:
        return list(conn.execute(sa.select(public_attempts.c.key).order_by(public_attempts.c.id)).scalars())


def add_attempts(clinic, **ages: dt.timedelta) -> None:
    with clinic.runtime.engine.begin() as conn:
        conn.execute(public_attempts.insert(), [{"key": key, "at": NOW - age} for key, age in ages.items()])


def pruning_job(clinic, **public):
    """The last of the worker's jobs (the clinic's channels set, as a worker needs them), `[public]` as given."""
    from builder.worker import project_jobs

    config = clinic.runtime.project.config
    config["channels"] = {
        "sms": {"type": "sms", "url": "http://127.0.0.1:9/sms", "sign_name": "S"},
        "inbox": {"type": "inbox"},
    }
    config["public"] = public
    job = project_jobs(clinic.runtime)[-1]
    assert job.__name__ == "prune_public_forms"
    return job


def test_the_workers_job_prunes_dead_links_and_old_attempts_hourly(clinic):

    long_expired, _ = issue(clinic, NOW - 61 * DAY)  # expired 31 days ago
    _, expired = issue(clinic, NOW - 40 * DAY)  # expired 10 days ago: kept for the record's page
    _, spent_long_ago = issue(clinic, NOW - 35 * DAY, reuse=False, used_at=NOW - 32 * DAY, uses=1)
    _, spent = issue(clinic, NOW - 5 * DAY, reuse=False, used_at=NOW - 4 * DAY, uses=1)
    _, reused = issue(clinic, NOW - 2 * DAY, used_at=NOW - 2 * DAY, uses=3)  # reusable and live: kept
    _, revoked_long_ago = issue(clinic, NOW - 40 * DAY, revoked_at=NOW - 31 * DAY)
    _, live = issue(clinic, NOW)
    add_attempts(clinic, old=dt.timedelta(hours=2), recent=dt.timedelta(minutes=10))
    assert len(link_ids(clinic)) == 7

    prune = pruning_job(clinic)
    assert prune(NOW) == 4  # 3 links and 1 attempt
    assert link_ids(clinic) == [expired, spent, reused, live]
    assert attempts(clinic) == ["recent"]
    assert {spent_long_ago, revoked_long_ago}.isdisjoint(link_ids(clinic))

    add_attempts(clinic, stale=dt.timedelta(hours=3))
    assert prune(NOW + dt.timedelta(minutes=30)) == 0  # within the hour: not again
    assert prune(NOW + dt.timedelta(minutes=61)) == 2  # then the stale attempt, and "recent" is past the window now
    assert attempts(clinic) == []

    page = clinic._client({"accept-language": "en"}).get(f"/f/{long_expired}")
    assert page.status_code == 410 and "expired" in page.text  # pruned, still told kindly why


def test_keep_days_and_the_window_come_from_crm_toml(clinic):
    issue(clinic, NOW - 40 * DAY)  # expired 10 days ago
    add_attempts(clinic, old=dt.timedelta(hours=2))
    assert pruning_job(clinic, keep_days=7, window_minutes=180)(NOW) == 1
    assert link_ids(clinic) == [] and attempts(clinic) == ["old"]


def test_a_never_issued_link_with_a_future_expiry_stays_not_valid(clinic):
    unrecorded = desk(clinic).tokens.signer.sign("home_reading", 1, NOW + DAY)
    page = clinic._client({"accept-language": "en"}).get(f"/f/{unrecorded}")
    assert page.status_code == 403 and "not valid" in page.text
