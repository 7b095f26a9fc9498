"""Who may use supervision review: active members of the group named "Supervision".

Reviewers see only the policies they review (selectors.py); this module answers the first
question, the group, for the API, the console pages and the navigation.
"""

from rest_framework.permissions import BasePermission

from archiving.audit import audit_refusal_append
from directory.exceptions import Forbidden
from directory.exceptions import sentence_gettext as _
from directory.models import Person
from directory.selectors import person_in_group

SUPERVISION_GROUP = "Supervision"


def is_supervisor(person: Person) -> bool:
    """Return whether the person is an active member of the Supervision group."""
    return person_in_group(person, group=SUPERVISION_GROUP)


def supervisor_require(person: Person) -> None:
    """Raise Forbidden unless the person is in the Supervision group."""
    if not is_supervisor(person):
        raise Forbidden(
            _("Only members of the Supervision group may use supervision review."),
            code="not_supervisor",
        )


def supervision_refusal_record(*, request, reason: str) -> None:
    """Audit a signed-in person refused a supervision endpoint or page (403)."""
    audit_refusal_append(
        actor=request.user, method=request.method, path=request.path, reason=reason
    )


class IsSupervisor(BasePermission):
    """DRF permission: authenticated and in the Supervision group, else 403 (audited)."""

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False  # DRF answers 401 for an anonymous caller
        try:
            supervisor_require(request.user)
        except Forbidden as refusal:
            supervision_refusal_record(request=request, reason=refusal.code)
            raise
        return True
