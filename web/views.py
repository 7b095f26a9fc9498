"""Pages for people in a browser; no business logic here."""

from functools import wraps

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from archiving.access import compliance_refusal_record, is_compliance_officer
from archiving.models import AuditAction
from directory import services


@login_required
def home(request):
    """The employee client: contacts, presence, conversations (web/static/js/app.js)."""
    return render(request, "web/home.html", {"idle_seconds": int(settings.PARLEY_WEB_IDLE_SECONDS)})


@login_required
def rooms(request):
    """The room directory, invitations and topic feeds (web/static/js/rooms-page.js)."""
    return render(request, "web/rooms.html")


@require_POST
def logout(request):
    """Sign out and close this browser session's sockets at once."""
    person_id, session_key = request.user.pk, request.session.session_key
    response = auth_views.LogoutView.as_view()(request)
    if person_id is not None:
        services.session_ended(person_id=person_id, session_key=session_key)
    return response


def presence_element(request):
    """How to embed <parley-presence> in other pages of the site, with live examples."""
    names = request.GET.get("user", "")
    users = [name.strip() for name in names.split(",") if name.strip()][:20]
    return render(request, "web/presence_element.html", {"users": users})


# -- the compliance console: officers only, refused here as well as by the API -----------------


def officer_required(view):
    """Sign-in first; then a 403 page for anyone outside the Compliance group."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_compliance_officer(request.user):
            compliance_refusal_record(request=request, reason="not_compliance_officer")
            return render(request, "web/console/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def _console(template: str, section: str, extra=dict):
    @officer_required
    def view(request, **kwargs):
        context = {"section": section, **extra(), **kwargs}
        return render(request, f"web/console/{template}", context)

    view.__name__ = f"console_{section}"
    return view


console_search = _console("search.html", "search")
console_cases = _console("cases.html", "cases")
console_case = _console("case.html", "cases")
console_exports = _console("exports.html", "exports")
console_audit = _console("audit.html", "audit", extra=lambda: {"actions": AuditAction.choices})
console_health = _console("health.html", "health")
console_presence = _console("presence.html", "presence")


# -- usage reports: administrators and compliance officers ------------------------------------


def can_see_usage(person) -> bool:
    """Return whether the person may read usage reports (as the API decides)."""
    return bool(
        getattr(person, "is_authenticated", False)
        and person.is_active
        and (person.is_staff or is_compliance_officer(person))
    )


@login_required
def console_usage(request):
    """Usage charts, table and CSV download over /api/v1/reports/usage/ (no content)."""
    if not can_see_usage(request.user):
        compliance_refusal_record(request=request, reason="not_allowed")
        return render(request, "web/console/usage_forbidden.html", status=403)
    strings = {
        "none": _("No activity in this range."),
        "summary": _("%(messages)s messages; up to %(people)s people active on one day."),
        "share": _("External share overall: %(share)s"),
        "groups": {
            "day": _("Day"),
            "kind": _("Conversation kind"),
            "department": _("Department"),
            "room": _("Room"),
        },
        "no_department": _("(no department)"),
        "messages": _("messages"),
        "people": _("people"),
    }
    return render(request, "web/console/usage.html", {"section": "usage", "strings": strings})
