"""IM policy changes (Lync's offline IM switch), audited as policy.change like archiving's.

Administrators change these in Django admin; the admin goes through these services so every
change, deletion and per-person assignment leaves an audit entry in the same transaction.
"""

from django.db import transaction

from archiving.policies import policy_change_delete, policy_change_save
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


def _assignment_state(assignment: ImPolicyAssignment | None) -> dict | None:
    if assignment is None:
        return None
    return {"person": assignment.person.username, "policy": assignment.policy.name}


@transaction.atomic
def im_policy_save(*, actor: Person, policy: ImPolicy) -> ImPolicy:
    """Store a new or changed IM policy and audit the change."""
    return policy_change_save(
        actor=actor, instance=policy, target="IM policy", key="policy", state=_policy_state
    )


@transaction.atomic
def im_policy_delete(*, actor: Person, policy: ImPolicy) -> None:
    """Delete an IM policy and audit it."""
    policy_change_delete(
        actor=actor, instance=policy, target="IM policy", key="policy", state=_policy_state
    )


@transaction.atomic
def im_assignment_save(*, actor: Person, assignment: ImPolicyAssignment) -> ImPolicyAssignment:
    """Store a person's IM policy override and audit it."""
    return policy_change_save(
        actor=actor,
        instance=assignment,
        target="IM policy assignment",
        key="assignment",
        state=_assignment_state,
    )


@transaction.atomic
def im_assignment_delete(*, actor: Person, assignment: ImPolicyAssignment) -> None:
    """Remove a person's override (the global IM policy applies again) and audit it."""
    policy_change_delete(
        actor=actor,
        instance=assignment,
        target="IM policy assignment",
        key="assignment",
        state=_assignment_state,
    )


def notice_preference_set(*, person: Person, is_missed_im_email_on) -> NoticePreference:
    """Turn the person's missed-IM e-mail on or off."""
    if not isinstance(is_missed_im_email_on, bool):
        raise InvalidInput(_("missed_im_email must be true or false."))
    preference, _ignored = NoticePreference.objects.update_or_create(
        person=person, defaults={"is_missed_im_email_on": is_missed_im_email_on}
    )
    return preference
