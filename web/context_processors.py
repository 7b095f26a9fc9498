"""What every page's navigation needs to know about the signed-in person."""

from archiving.access import is_compliance_officer
from supervision.access import is_supervisor


def navigation(request):
    """`is_compliance_officer`: the nav shows the compliance console only to officers;
    `is_supervisor`: supervision review, only to members of the Supervision group;
    `can_see_usage`: usage reports, to officers and administrators."""
    user = getattr(request, "user", None)
    is_officer = bool(user is not None and is_compliance_officer(user))
    is_admin = bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)
    return {
        "is_compliance_officer": is_officer,
        "is_supervisor": bool(user is not None and is_supervisor(user)),
        "can_see_usage": is_officer or is_admin,
    }
