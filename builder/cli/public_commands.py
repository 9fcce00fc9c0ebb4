"""`crm form-link FORM [--patient ID]`: the link to a public form, printed (and its QR code saved).

For a patient form, the same link staff make from the patient's record page
(docs/public-forms.md): signed with the project's secret, recorded by its hash in
`crm_public_token`, audited. For a clinic form, its one address (`/f/clinic/FORM`), to
print as a QR code for the desk. The address before `/f/` is `--base-url`, else
`[public] base_url` in crm.toml.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .base import main, project_option

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@main.command("form-link")
@click.argument("form_name", metavar="FORM")
@click.option("--patient", "record_id", type=int, default=None, help="The record a patient form's link is bound to.")
@click.option("--base-url", default=None, help="The app's public address (default: [public] base_url).")
@click.option(
    "--qr", "qr_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Save a QR code (SVG)."
)
@project_option
def form_link(
    form_name: str, record_id: int | None, base_url: str | None, qr_file: Path | None, project_dir: Path
) -> None:
    """Print the link to public form FORM: a new one for one patient (--patient), or a clinic form's address."""
    from ..public_forms import public_forms
    from ..public_forms.qr import qr_svg
    from ..public_forms.tokens import TokenStore
    from ..records import SYSTEM
    from ..records.auditing import audit_row
    from ..runtime import open_runtime
    from ..storage.database import write_transaction
    from ..system_tables import audit
    from ..web.security import SecuritySettings

    runtime = open_runtime(project_dir)
    try:
        catalog = public_forms(runtime.blueprint)
        form = catalog.get(form_name)
        base = (base_url or runtime.project.setting("public", "base_url", DEFAULT_BASE_URL)).rstrip("/")
        if form is not None and not form.by_patient:
            if record_id is not None:
                raise click.BadParameter(
                    f"`{form_name}` is a clinic form: its link is for everyone", param_hint="--patient"
                )
            url = f"{base}/f/clinic/{form.name}"
            if qr_file is not None:
                qr_file.write_text(qr_svg(url, form.name), encoding="utf-8")
            click.echo(url)
            return
        if form is None or form.bound_entity is None:
            names = ", ".join(sorted(catalog)) or "none"
            raise click.BadParameter(f"`{form_name}` is not a public form (public forms: {names})", param_hint="FORM")
        if record_id is None:
            raise click.BadParameter(f"`{form_name}` is a patient form: name the record", param_hint="--patient")
        found = runtime.records.list(SYSTEM, form.bound_entity, filters={"id": record_id}, limit=1, fields=["id"])
        if not found.items:
            raise click.BadParameter(f"there is no {form.bound_entity} {record_id}", param_hint="--patient")
        secret = SecuritySettings.from_project(runtime.project).secret_key
        store = TokenStore(runtime.engine, secret)
        token, token_id = store.issue(form, record_id, "crm form-link")
        entry = audit_row(
            SYSTEM,
            "public_link",
            form.bound_entity,
            record_id,
            runtime.records.clock(),
            None,
            json.dumps({"form": form.name, "token": token_id, "via": "crm form-link"}),
        )
        with write_transaction(runtime.engine) as conn:
            conn.execute(audit.insert().values(**entry))
        url = f"{base}/f/{token}"
        if qr_file is not None:
            qr_file.write_text(qr_svg(url, form.name), encoding="utf-8")
        expires = (store.clock() + form.expires).strftime("%Y-%m-%d %H:%M UTC")
    finally:
        runtime.close()
    click.echo(url)
    click.echo(f"valid until {expires}{', reusable' if form.public.reuse else ', single use'}", err=True)


@main.command("prune-form-links")
@project_option
def prune_form_links(project_dir: Path) -> None:
    """Delete public-form links dead (expired, used, revoked) for longer than [public] keep_days, and the
    rate-limit rows past the window (the worker does this every hour)."""
    from ..public_forms.pruning import prune_public
    from ..public_forms.submitting import Limits
    from ..public_forms.tokens import utc_now
    from ..runtime import open_runtime

    runtime = open_runtime(project_dir)
    try:
        limits = Limits.from_project(runtime.project)
        pruned = prune_public(runtime.engine, utc_now(), limits.keep, limits.window)
    finally:
        runtime.close()
    days = limits.keep.days
    click.echo(f"pruned {pruned.links} public-form links dead for over {days} days, {pruned.attempts} rate-limit rows")
