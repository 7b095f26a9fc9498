"""Archiving policy changes (what is captured), audited as policy.change.

Administrators change these in Django admin; the admin goes through these services so every
change, deletion and per-person assignment leaves an audit entry in the same transaction.
"""

from django.db import transaction
from django.db.models import Model
from django.forms.models import model_to_dict

from archiving.audit import audit_append
from archiving.models import ArchivingPolicy, ArchivingPolicyAssignment, AuditAction
from directory.models import Person


def _policy_state(policy: ArchivingPolicy | None) -> dict | None:
    if policy is None:
        return None
    return model_to_dict(
        policy, fields=["name", "is_global", "archive_internal", "archive_external", "is_critical"]
    )


def _assignment_state(assignment: ArchivingPolicyAssignment | None) -> dict | None:
    if assignment is None:
        return None
    return {"person": assignment.person.username, "policy": assignment.policy.name}


def policy_change_save(*, actor: Person, instance: Model, target: str, key: str, state) -> Model:
    """Store a new or changed policy-like row and audit it as policy.change: `state` turns a
    row (or None) into what the audit entry keeps under "previous" and `key`."""
    model = type(instance)
    stored = model._default_manager.filter(pk=instance.pk).first() if instance.pk else None
    previous = state(stored)
    instance.save()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"{target} {instance.pk}",
        parameters={
            "operation": "update" if stored else "create",
            "previous": previous,
            key: state(instance),
        },
    )
    return instance


def policy_change_delete(*, actor: Person, instance: Model, target: str, key: str, state) -> None:
    """Delete a policy-like row and audit it as policy.change (see policy_change_save)."""
    previous, instance_id = state(instance), instance.pk
    instance.delete()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"{target} {instance_id}",
        parameters={"operation": "delete", "previous": previous, key: None},
    )


@transaction.atomic
def archiving_policy_save(*, actor: Person, policy: ArchivingPolicy) -> ArchivingPolicy:
    """Store a new or changed archiving policy and audit the change."""
    return policy_change_save(
        actor=actor, instance=policy, target="archiving policy", key="policy", state=_policy_state
    )


@transaction.atomic
def archiving_policy_delete(*, actor: Person, policy: ArchivingPolicy) -> None:
    """Delete an archiving policy and audit it."""
    policy_change_delete(
        actor=actor, instance=policy, target="archiving policy", key="policy", state=_policy_state
    )


@transaction.atomic
def archiving_assignment_save(
    *, actor: Person, assignment: ArchivingPolicyAssignment
) -> ArchivingPolicyAssignment:
    """Store a person's archiving policy override and audit it."""
    return policy_change_save(
        actor=actor,
        instance=assignment,
        target="archiving assignment",
        key="assignment",
        state=_assignment_state,
    )


@transaction.atomic
def archiving_assignment_delete(*, actor: Person, assignment: ArchivingPolicyAssignment) -> None:
    """Remove a person's override (the global policy applies again) and audit it."""
    policy_change_delete(
        actor=actor,
        instance=assignment,
        target="archiving assignment",
        key="assignment",
        state=_assignment_state,
    )
