"""Archiving policy changes (what is captured), audited as policy.change.

Administrators change these in Django admin; the admin goes through these services so every
change, deletion and per-person assignment leaves an audit entry in the same transaction.
"""

from django.db import transaction
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


@transaction.atomic
def archiving_policy_save(*, actor: Person, policy: ArchivingPolicy) -> ArchivingPolicy:
    """Store a new or changed archiving policy and audit the change."""
    stored = ArchivingPolicy.objects.filter(pk=policy.pk).first() if policy.pk else None
    previous = _policy_state(stored)
    policy.save()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"archiving policy {policy.pk}",
        parameters={
            "operation": "update" if stored else "create",
            "previous": previous,
            "policy": _policy_state(policy),
        },
    )
    return policy


@transaction.atomic
def archiving_policy_delete(*, actor: Person, policy: ArchivingPolicy) -> None:
    """Delete an archiving policy and audit it."""
    previous, policy_id = _policy_state(policy), policy.pk
    policy.delete()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"archiving policy {policy_id}",
        parameters={"operation": "delete", "previous": previous, "policy": None},
    )


@transaction.atomic
def archiving_assignment_save(
    *, actor: Person, assignment: ArchivingPolicyAssignment
) -> ArchivingPolicyAssignment:
    """Store a person's archiving policy override and audit it."""
    stored = (
        ArchivingPolicyAssignment.objects.select_related("person", "policy")
        .filter(pk=assignment.pk)
        .first()
        if assignment.pk
        else None
    )
    previous = _assignment_state(stored)
    assignment.save()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"archiving assignment {assignment.pk}",
        parameters={
            "operation": "update" if stored else "create",
            "previous": previous,
            "assignment": _assignment_state(assignment),
        },
    )
    return assignment


@transaction.atomic
def archiving_assignment_delete(*, actor: Person, assignment: ArchivingPolicyAssignment) -> None:
    """Remove a person's override (the global policy applies again) and audit it."""
    previous, assignment_id = _assignment_state(assignment), assignment.pk
    assignment.delete()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"archiving assignment {assignment_id}",
        parameters={"operation": "delete", "previous": previous, "assignment": None},
    )
