"""What every page's navigation needs to know about the signed-in person."""

from archiving.access import is_compliance_officer
from supervision.access import is_supervisor


def navigation(request):
    """`is_compliance_officer`, `is_supervisor`: the nav shows the compliance console only to
    officers and supervision review only to members of the Supervision group."""
    user = getattr(request, "user", None)
    return {
        "is_compliance_officer": bool(user is not None and is_compliance_officer(user)),
        "is_supervisor": bool(user is not None and is_supervisor(user)),
    }
