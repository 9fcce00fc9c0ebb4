"""The public actor: nobody signed in, allowed exactly what one form maps.

Its grants replace any role's: it may create records of the form's entity with the
form's fields (and the bound link), read nothing, and see of the bound record only that
it exists, so the record service's check that a link points at a visible record holds
for exactly the bound patient.
"""

from __future__ import annotations

from builder.records import Actor
from builder.records.policy import NO_GRANT, Grant

from .catalog import PublicForm

PUBLIC_NAME = PUBLIC_ROLE = "public"


def public_actor(form: PublicForm, bound_id: int | None, locale: str, address_hash: str | None) -> Actor:
    """The actor a submission to `form` is made as (`bound_id`: the token's record, patient mode)."""
    fields = frozenset(form.fields) | ({form.bind} if form.bind else frozenset())
    # Creates with the form's fields; reads nothing, and its row filter admits no stored row, so no
    # record can be updated or deleted either (a grant to write is also one to update).
    grants = {form.entity: Grant(frozenset(), fields, True, False, False, False, "false", False)}
    if form.bound_entity is not None and bound_id is not None:
        # "id" is no field: nothing is ever shown, but links to the bound record pass the visibility check.
        grants[form.bound_entity] = Grant(
            frozenset({"id"}), frozenset(), False, False, False, False, "id == user.bound", False
        )
    elif form.bound_entity is not None:
        grants[form.bound_entity] = NO_GRANT
    return Actor(
        id=None,
        name=PUBLIC_NAME,
        role=PUBLIC_ROLE,
        locale=locale,
        address=address_hash,
        extra={"bound": bound_id, "form": form.name},
        grants=grants,
    )
