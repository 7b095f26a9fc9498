"""Retention policy changes and dry runs, each audited with what it would purge."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from archiving.audit import audit_append
from archiving.holds import people_by_username
from archiving.models import AuditAction, RetentionPolicy
from archiving.retention.plan import PolicySpec, RetentionPreview, preview_compute, specs_current
from directory.exceptions import Conflict, InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person

MAX_DAYS = 36_500
Scope = RetentionPolicy.Scope


def _policy_dict(policy: RetentionPolicy | None) -> dict | None:
    if policy is None:
        return None
    return {
        "id": policy.pk,
        "scope": policy.scope,
        "person": policy.person.username if policy.person_id else None,
        "conversation": policy.conversation_id,
        "days": policy.days,
        "is_active": policy.is_active,
    }


def policy_to_dict(policy: RetentionPolicy) -> dict:
    data = _policy_dict(policy)
    data.update(created_at=policy.created_at, updated_at=policy.updated_at)
    return data


def _days_parse(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
        raise InvalidInput(
            _("days must be a whole number from 1 to %(MAX_DAYS)s.") % {"MAX_DAYS": MAX_DAYS}
        )
    return value


def _proposal_apply(policy: RetentionPolicy | None, data: dict) -> RetentionPolicy:
    """Return an unsaved policy: the existing one with the changes, or a new one."""
    if not isinstance(data, dict):
        raise InvalidInput(_("The policy must be an object."))
    allowed = {"days", "is_active"} | (
        set() if policy is not None else {"scope", "person", "conversation"}
    )
    unknown = sorted(set(data) - allowed)
    if unknown:
        fixed = " (scope and target are fixed once created)" if policy is not None else ""
        raise InvalidInput(
            _("Cannot set %(unknown)s of a retention policy%(fixed)s.")
            % {"unknown": ", ".join(unknown), "fixed": fixed}
        )
    if policy is None:
        scope = data.get("scope")
        if scope not in Scope.values:
            raise InvalidInput(_("scope must be global, person or conversation."))
        policy = RetentionPolicy(scope=scope, days=_days_parse(data.get("days")))
        if scope == Scope.PERSON:
            (policy.person,) = people_by_username([data.get("person")], field="person")
        elif data.get("person") is not None:
            raise InvalidInput(_("Only a person policy names a person."))
        if scope == Scope.CONVERSATION:
            value = data.get("conversation")
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(_("conversation must be a conversation id."))
            policy.conversation_id = value
        elif data.get("conversation") is not None:
            raise InvalidInput(_("Only a conversation policy names a conversation."))
    elif "days" in data:
        policy.days = _days_parse(data["days"])
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise InvalidInput(_("is_active must be true or false."))
        policy.is_active = data["is_active"]
    return policy


def policy_validate(*, policy_id: int | None, data: dict) -> None:
    """Raise the service's error if this policy data would be refused (for forms)."""
    current = RetentionPolicy.objects.filter(pk=policy_id).first() if policy_id else None
    _proposal_apply(current, data)


def _specs_with(policy: RetentionPolicy | None, *, replacing: int | None) -> list[PolicySpec]:
    specs = specs_current()
    specs.pop(replacing, None)
    result = list(specs.values())
    if policy is not None and policy.is_active:
        result.append(
            PolicySpec(policy.scope, policy.days, policy.person_id, policy.conversation_id)
        )
    return result


def _policy_locked(policy_id: int) -> RetentionPolicy:
    policy = RetentionPolicy.objects.select_for_update(of=("self",)).filter(pk=policy_id).first()
    if policy is None:
        raise NotFound(
            _("No retention policy %(policy_id)s.") % {"policy_id": policy_id},
            code="retention_policy_not_found",
        )
    return policy


def retention_dry_run(
    *,
    actor: Person | None,
    policy_id: int | None = None,
    data: dict | None = None,
    delete: bool = False,
    now: datetime | None = None,
) -> RetentionPreview:
    """Return what a run would purge with the proposed policy change, without saving it.

    Without data (and without delete), what the next run would purge under the current policies.
    """
    now = now or timezone.now()
    current = None
    if policy_id is not None:
        current = RetentionPolicy.objects.select_related("person").filter(pk=policy_id).first()
        if current is None:
            raise NotFound(
                _("No retention policy %(policy_id)s.") % {"policy_id": policy_id},
                code="retention_policy_not_found",
            )
    previous = _policy_dict(current)
    if data is None and not delete:  # no change: what the next run would purge
        proposed = current
        preview = preview_compute(list(specs_current().values()), now)
        target = "retention policies (current)"
    else:
        proposed = None if delete else _proposal_apply(current, data or {})
        preview = preview_compute(_specs_with(proposed, replacing=policy_id), now)
        target = f"retention policy {policy_id}" if policy_id else "retention policy (new)"
    audit_append(
        actor=actor,
        action=AuditAction.RETENTION_DRY_RUN,
        target=target,
        parameters={
            "previous": previous,
            "proposed": _policy_dict(proposed) if proposed else None,
            "as_of": now.isoformat(),
            "dry_run": preview.as_dict(),
        },
        result_count=preview.records,
    )
    return preview


@transaction.atomic
def retention_policy_save(
    *,
    actor: Person | None,
    policy_id: int | None = None,
    data: dict,
    now: datetime | None = None,
) -> tuple[RetentionPolicy, RetentionPreview]:
    """Create or change a retention policy; the audit entry carries its dry run."""
    now = now or timezone.now()
    current = _policy_locked(policy_id) if policy_id is not None else None
    previous = _policy_dict(current)
    policy = _proposal_apply(current, data)
    preview = preview_compute(_specs_with(policy, replacing=policy_id), now)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise Conflict(
            _("A retention policy for that scope and target exists already; change it instead."),
            code="retention_policy_exists",
        ) from None
    audit_append(
        actor=actor,
        action=AuditAction.RETENTION_CHANGE,
        target=f"retention policy {policy.pk}",
        parameters={
            "operation": "update" if current else "create",
            "previous": previous,
            "policy": _policy_dict(policy),
            "as_of": now.isoformat(),
            "dry_run": preview.as_dict(),
        },
        result_count=preview.records,
    )
    return policy, preview


@transaction.atomic
def retention_policy_delete(
    *, actor: Person | None, policy_id: int, now: datetime | None = None
) -> RetentionPreview:
    """Delete a retention policy; the audit entry carries its dry run."""
    now = now or timezone.now()
    policy = _policy_locked(policy_id)
    previous = _policy_dict(policy)
    preview = preview_compute(_specs_with(None, replacing=policy_id), now)
    policy.delete()
    audit_append(
        actor=actor,
        action=AuditAction.RETENTION_CHANGE,
        target=f"retention policy {policy_id}",
        parameters={
            "operation": "delete",
            "previous": previous,
            "policy": None,
            "as_of": now.isoformat(),
            "dry_run": preview.as_dict(),
        },
        result_count=preview.records,
    )
    return preview
