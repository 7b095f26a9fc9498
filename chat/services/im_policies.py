"""IM policy changes (Lync's offline IM switch), audited as policy.change like archiving's.

Administrators change these in Django admin; the admin goes through these services so every
change, deletion and per-person assignment leaves an audit entry in the same transaction.
"""

from django.db import transaction

from archiving.audit import audit_append
from archiving.models import AuditAction
from chat.models import ImPolicy, ImPolicyAssignment, NoticePreference
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.models import Person


def _policy_state(policy: ImPolicy | None) -> dict | None:
    if policy is None:
        return None
    return {
        "name": policy.name,
        "is_global": policy.is_global,
        "delivers_offline": policy.delivers_offline,
    }


@transaction.atomic
def im_policy_save(*, actor: Person, policy: ImPolicy) -> ImPolicy:
    """Store a new or changed IM policy and audit the change."""
    stored = ImPolicy.objects.filter(pk=policy.pk).first() if policy.pk else None
    previous = _policy_state(stored)
    policy.save()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"IM policy {policy.pk}",
        parameters={
            "operation": "update" if stored else "create",
            "previous": previous,
            "policy": _policy_state(policy),
        },
    )
    return policy


@transaction.atomic
def im_policy_delete(*, actor: Person, policy: ImPolicy) -> None:
    """Delete an IM policy and audit it."""
    previous, policy_id = _policy_state(policy), policy.pk
    policy.delete()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"IM policy {policy_id}",
        parameters={"operation": "delete", "previous": previous, "policy": None},
    )


@transaction.atomic
def im_assignment_save(*, actor: Person, assignment: ImPolicyAssignment) -> ImPolicyAssignment:
    """Store a person's IM policy override and audit it."""
    stored = (
        ImPolicyAssignment.objects.select_related("person", "policy")
        .filter(pk=assignment.pk)
        .first()
        if assignment.pk
        else None
    )
    assignment.save()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"IM policy assignment {assignment.pk}",
        parameters={
            "operation": "update" if stored else "create",
            "previous": {"person": stored.person.username, "policy": stored.policy.name}
            if stored
            else None,
            "assignment": {"person": assignment.person.username, "policy": assignment.policy.name},
        },
    )
    return assignment


@transaction.atomic
def im_assignment_delete(*, actor: Person, assignment: ImPolicyAssignment) -> None:
    """Remove a person's override (the global IM policy applies again) and audit it."""
    previous = {"person": assignment.person.username, "policy": assignment.policy.name}
    assignment_id = assignment.pk
    assignment.delete()
    audit_append(
        actor=actor,
        action=AuditAction.POLICY_CHANGE,
        target=f"IM policy assignment {assignment_id}",
        parameters={"operation": "delete", "previous": previous, "assignment": None},
    )


def notice_preference_set(*, person: Person, is_missed_im_email_on) -> NoticePreference:
    """Turn the person's missed-IM e-mail on or off."""
    if not isinstance(is_missed_im_email_on, bool):
        raise InvalidInput(_("missed_im_email must be true or false."))
    preference, _ignored = NoticePreference.objects.update_or_create(
        person=person, defaults={"is_missed_im_email_on": is_missed_im_email_on}
    )
    return preference
