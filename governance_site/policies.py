"""One policy contract per lever, and the one upsert every lever's policy goes through.

A lever declares its policy once, in its services.py::

    POLICY = PolicyContract(
        model=HeimdallPolicy,
        lever=Lever.HEIMDALL,
        title="Heimdall policy",
        keys=(DOMAIN,),  # identify the row: normalised (`wholesale` → `WHOLESALE`), never changed
        fields=("enabled", "min_confidence_prod", ...),  # what an operator may change
    )

    def upsert_policy(*, domain, changes, actor, reason="", version=None):
        return POLICY.upsert(key={"domain": domain}, changes=changes, actor=actor, reason=reason, version=version)

and gets from it: the upsert (normalise the key, whitelist the fields, validate with the model's
field validators and `full_clean`, lock the row, refuse a stale `version`, save, audit the
before/after in the same transaction, answer `(policy, created)`), the list/upsert API
(`governance_site.policy_apis.views`) and the admin's change form (`admin_tools.PolicyAdminMixin`).
A new field on every policy is a model field plus its name in `fields`. See the README's "Adding a
lever's policy".

Reasons, one rule everywhere: a switch (kill switch, go-live, enable/disable, tripwire reset)
needs a reason (`required_reason`). A policy upsert takes an optional one; without it the audit
event's reason is empty, which the audit trail lists as unexplained (`audit?unexplained=true`),
unless `require_reason` or the GOVERNANCE_REQUIRE_REASON setting makes it mandatory.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from governance_site.audit import services as audit
from governance_site.changes import Becomes, Loosens, loosened_fields, require_approval
from governance_site.errors import Conflict, InvalidInput
from governance_site.identifiers import Identifier

STALE_VERSION = "stale_version"  # the reason code of a change made against an outdated version


def first_error(exc: ValidationError) -> InvalidInput:
    """A Django ValidationError as the InvalidInput (400) naming its first field."""
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        return InvalidInput(f"{field}: {errors[0].messages[0]}", field=None if field == "__all__" else field)
    return InvalidInput(exc.messages[0])


def required_reason(reason, *, what: str) -> str:
    """The stripped reason, or InvalidInput naming `reason`: "a reason is required to {what}"."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInput(f"reason: a reason is required to {what}.", field="reason")
    return reason


def version_of(instance: models.Model) -> str:
    """The version a form or client saw: the row's last change (`updated_at`, set on every save)."""
    return instance.updated_at.isoformat()


def _unchanged(before: dict, instance: models.Model) -> bool:
    """Whether an update leaves every field as it was (who changed it last aside)."""
    after = audit.snapshot(instance)
    return all(after[name] == value for name, value in before.items() if name != "changed_by")


@dataclass(frozen=True)
class PolicyContract:
    model: type[models.Model]
    lever: str
    keys: tuple[Identifier, ...]
    fields: tuple[str, ...]
    title: str  # "risk policy": in the API's summaries and the admin's messages
    require_reason: bool = False  # False: the GOVERNANCE_REQUIRE_REASON setting decides
    check: Callable[[models.Model], None] | None = None  # rules across fields; raises InvalidInput
    # (before, policy, actor, reason) -> the reason to record: a lever's note on a change (e.g. a
    # risk policy re-enabled while a tripwire's throttle held it: "Throttle lifted by op: …").
    annotate: Callable[[dict | None, models.Model, object, str], str] | None = None
    after_save: Callable[[models.Model, bool], None] | None = None  # (policy, created), same transaction
    # Four-eyes (governance_site.changes): the direction in which each field loosens its control.
    # A change that moves one that way needs an approved change request while approvals are on.
    loosening: Mapping[str, Loosens | Becomes] = field(default_factory=dict)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(identifier.name for identifier in self.keys)

    @property
    def reason_required(self) -> bool:
        return self.require_reason or settings.GOVERNANCE_REQUIRE_REASON

    def clean_key(self, key: Mapping) -> dict:
        return {identifier.name: identifier.clean(key.get(identifier.name)) for identifier in self.keys}

    def clean_changes(self, changes: Mapping) -> dict:
        for name in changes:
            if name in self.key_names:
                raise InvalidInput(f"{name}: identifies the policy and is never changed; create another.", field=name)
            if name not in self.fields:
                raise InvalidInput(f"{name}: not a field of a {self.title}.", field=name)
        return dict(changes)

    def clean_reason(self, reason) -> str:
        if self.reason_required:
            return required_reason(reason, what=f"change a {self.title}")
        if reason is not None and not isinstance(reason, str):
            raise InvalidInput("reason: must be a string.", field="reason")
        return (reason or "").strip()

    def upsert(
        self, *, key: Mapping, changes: Mapping, actor, reason: str = "", version: str | None = None
    ) -> tuple[models.Model, bool]:
        """Create the policy identified by `key` or change the given fields of it; audited.

        With `version` (what the caller saw, `version_of`), a policy changed since is a Conflict
        (409 `stale_version`), never overwritten. An update that changes nothing writes nothing and
        records no audit event. Returns (policy, created).
        """
        return self._save(
            self.clean_key(key), self.clean_changes(changes), actor=actor, reason=self.clean_reason(reason),
            version=version,
        )  # fmt: skip

    def validated(self, instance: models.Model, changes: Mapping) -> models.Model:
        """`instance` with `changes` set, checked by the model's field rules and `check` (InvalidInput)."""
        for name, value in changes.items():
            setattr(instance, name, value)
        try:
            # Field rules only: uniqueness is the database's (a racing create is retried in _save).
            instance.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise first_error(exc) from exc
        if self.check:
            self.check(instance)
        return instance

    def loosened(self, before: dict | None, after: models.Model) -> list[str]:
        """The fields `after` moves in their loosening direction (from the model's defaults when new)."""
        return loosened_fields(self.loosening, audit.snapshot(self.model()) if before is None else before,
                               audit.snapshot(after))  # fmt: skip

    @transaction.atomic
    def _save(self, key: dict, changes: dict, *, actor, reason: str, version: str | None):
        instance = self.model.objects.select_for_update().filter(**key).first()
        created = instance is None
        if created:
            instance, before = self.model(**key), None
        else:
            if version is not None and version != version_of(instance):
                raise Conflict(
                    f"{instance} was changed by {instance.changed_by or 'someone'} since you opened it "
                    f"(at {version_of(instance)}): reload it and make your change again.",
                    field="version",
                    reason=STALE_VERSION,
                )
            before = audit.snapshot(instance)
        instance.changed_by = audit.actor_name(actor)
        self.validated(instance, changes)
        if not created and _unchanged(before, instance):
            instance.changed_by = before["changed_by"]
            return instance, False  # nothing to save: no write, no audit event
        loosened = self.loosened(before, instance)
        if loosened:
            require_approval(what=f"{'Creating' if created else 'Changing'} {instance} ({', '.join(loosened)})")
        if self.annotate:
            reason = self.annotate(before, instance, actor, reason)
        try:
            with transaction.atomic():
                instance.save()
        except IntegrityError:
            if not created:
                raise
            # Another request created the same policy between our look-up and insert: update that one.
            return self._save(key, changes, actor=actor, reason=reason, version=version)
        action = "policy.create" if created else "policy.update"
        audit.record(actor=actor, lever=self.lever, instance=instance, action=action, before=before, reason=reason)
        if self.after_save:
            self.after_save(instance, created)
        return instance, created
