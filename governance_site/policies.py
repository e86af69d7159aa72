"""Creating or changing a lever's policy row, audited in the same transaction.

Every lever's `upsert_policy` service calls `upsert`, so the locking, validation and audit of a
policy change are written once.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from governance_site.audit import services as audit
from governance_site.errors import InvalidInput


def _first_validation_error(exc: ValidationError) -> InvalidInput:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        return InvalidInput(f"{field}: {errors[0].messages[0]}", field=None if field == "__all__" else field)
    return InvalidInput(exc.messages[0])


@transaction.atomic
def upsert(
    model: type[models.Model],
    *,
    lookup: dict,
    changes: dict,
    actor,
    lever: str,
    reason: str = "",
    action_prefix: str = "policy",
) -> tuple[models.Model, bool]:
    """Create the row identified by `lookup` or lock and update it with `changes`; audit the change.

    The model must have a `changed_by` CharField. Returns (instance, created). A change that
    changes nothing is still recorded (someone asked for it, with a reason).
    """
    instance = model.objects.select_for_update().filter(**lookup).first()
    created = instance is None
    if created:
        instance = model(**lookup)
        before = None
    else:
        before = audit.snapshot(instance)
    unknown = set(changes) - {f.name for f in model._meta.concrete_fields}
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a field of this policy.", field=sorted(unknown)[0])
    for field, value in changes.items():
        setattr(instance, field, value)
    instance.changed_by = audit.actor_name(actor)
    try:
        # Field rules only: uniqueness and constraints are the database's (a racing create is retried below).
        instance.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise _first_validation_error(exc) from exc
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        if not created:
            raise
        # Another request created the same policy between our look-up and insert: update that one.
        return upsert(
            model, lookup=lookup, changes=changes, actor=actor, lever=lever, reason=reason,
            action_prefix=action_prefix,
        )  # fmt: skip
    audit.record(
        actor=actor,
        lever=lever,
        instance=instance,
        action=f"{action_prefix}.{'create' if created else 'update'}",
        before=before,
        after=audit.snapshot(instance),
        reason=reason,
    )
    return instance, created
