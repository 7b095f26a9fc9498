"""What every page's navigation needs to know about the signed-in person."""

from archiving.access import is_compliance_officer


def navigation(request):
    """`is_compliance_officer`: the nav shows the compliance console only to officers."""
    user = getattr(request, "user", None)
    return {"is_compliance_officer": bool(user is not None and is_compliance_officer(user))}
