"""Who may reach the compliance archive: members of the Compliance group, nobody else.

Administrators do not read archives unless they are also compliance officers (DESIGN.md 8).
"""

from rest_framework.permissions import BasePermission

from archiving.audit import audit_refusal_append
from directory.exceptions import Forbidden
from directory.exceptions import sentence_gettext as _
from directory.models import Person
from directory.selectors import person_in_group

COMPLIANCE_GROUP = "Compliance"


def is_compliance_officer(person: Person) -> bool:
    """Return whether the person is an active member of the Compliance group."""
    return person_in_group(person, group=COMPLIANCE_GROUP)


def compliance_officer_require(person: Person) -> None:
    """Raise Forbidden unless the person is a compliance officer."""
    if not is_compliance_officer(person):
        raise Forbidden(
            _("Only compliance officers (members of the Compliance group) may use the archive."),
            code="not_compliance_officer",
        )


class IsComplianceOfficer(BasePermission):
    """DRF permission: authenticated and in the Compliance group, else 403 (audited)."""

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False  # DRF answers 401 for an anonymous caller
        try:
            compliance_officer_require(request.user)
        except Forbidden as refusal:
            compliance_refusal_record(request=request, reason=refusal.code)
            raise
        return True


def compliance_refusal_record(*, request, reason: str) -> None:
    """Audit a signed-in person refused a compliance endpoint or page (403)."""
    audit_refusal_append(
        actor=request.user, method=request.method, path=request.path, reason=reason
    )
