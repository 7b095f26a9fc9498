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
from supervision.access import is_supervisor, supervision_refusal_record


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


# -- supervision review: members of the Supervision group, refused here as well as by the API --


def supervisor_required(view):
    """Sign-in first; then a 403 page for anyone outside the Supervision group (audited)."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_supervisor(request.user):
            supervision_refusal_record(request=request, reason="not_supervisor")
            return render(request, "web/console/supervision_forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def _supervision_strings() -> dict[str, str]:
    """Words the supervision pages' scripts show, translated here (the scripts have no catalog;
    the page lists them in a hidden list, not an inline script the CSP would refuse)."""
    return {
        "lexicon": _("Lexicon"),
        "policy": _("Policy"),
        "reason": _("Reason"),
        "status": _("Status"),
        "reviewer": _("Reviewer"),
        "decision": _("Decision"),
        "comment": _("Comment"),
        "sample": _("Sample"),
        "open": _("Open"),
        "claimed": _("Claimed"),
        "resolved": _("Resolved"),
        "compliant": _("Compliant"),
        "escalated": _("Escalated"),
        "violation": _("Violation"),
        "matched": _("Matched"),
        "review": _("Review"),
        "claim": _("Claim"),
        "edited": _("edited since it was captured"),
        "deleted": _("deleted since it was captured"),
        "captured": _("As captured"),
        "case_opened": _("Case opened"),
        "nobody": _("nobody"),
        "everyone_internal": _("Internal"),
        "everyone_external": _("External"),
        "both": _("Internal and external"),
        "from": _("from"),
        "until": _("until"),
        "items_open": _("open"),
        "items_claimed": _("claimed"),
        "no_policies": _("You review no policy yet."),
        "created": _("Policy created."),
    }


@supervisor_required
def console_supervision(request):
    """The review queue (web/static/js/console/supervision.js)."""
    return render(
        request,
        "web/console/supervision.html",
        {"section": "supervision", "strings": _supervision_strings()},
    )


@supervisor_required
def console_supervision_policies(request):
    """Supervision policies: those I review, and a new one (supervision-policies.js)."""
    return render(
        request,
        "web/console/supervision_policies.html",
        {"section": "supervision-policies", "strings": _supervision_strings()},
    )
