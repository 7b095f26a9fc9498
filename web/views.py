"""Pages for people in a browser; no business logic here."""

from functools import wraps

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from archiving.access import compliance_refusal_record, is_compliance_officer
from archiving.models import AuditAction
from chat.selectors import participation_get
from directory import services
from directory.exceptions import NotFound
from directory.locale import language_supported, organisation_defaults
from supervision.access import is_supervisor, supervision_refusal_record


@login_required
def home(request, conversation_id: int | None = None, seq: int | None = None):
    """The employee client: contacts, presence, conversations (web/static/js/app.js).

    /c/<id>/ and /c/<id>/m/<seq>/ open a conversation (and a message in it); a conversation
    I am not in answers the same 404 page as one that does not exist.
    """
    if conversation_id is not None:
        try:
            participation_get(person_id=request.user.pk, conversation_id=conversation_id)
        except NotFound:
            raise Http404("No such conversation.") from None
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


@require_POST
def language_set(request):
    """The page control for the language: a signed-in person's setting is saved (empty: as
    the browser asks); a visitor's choice (the sign-in page) is kept in the language cookie."""
    chosen = request.POST.get("language", "")
    code = language_supported(chosen) or ""
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = redirect(next_url)
    if request.user.is_authenticated:
        # An unknown code reads as "" (as the browser asks): nothing to refuse.
        services.person_preferences_set(person=request.user, language=code)
    if code:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=request.is_secure(),
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
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
        context = {
            "section": section,
            # Exports' transcripts are written in the language chosen; the default is the
            # organisation's.
            "organisation_language": organisation_defaults().language,
            **extra(),
            **kwargs,
        }
        return render(request, f"web/console/{template}", context)

    view.__name__ = f"console_{section}"
    return view


console_search = _console("search.html", "search")
console_cases = _console("cases.html", "cases")
console_case = _console("case.html", "cases")
console_exports = _console("exports.html", "exports")
# The audit log's actions in words; an action added later shows its English label until it
# is given one here.
AUDIT_ACTION_LABELS = {
    AuditAction.SEARCH: _("Archive search"),
    AuditAction.RECORD_VIEW: _("Record viewed"),
    AuditAction.CONTEXT_VIEW: _("Context viewed"),
    AuditAction.VERIFY: _("Archive verified"),
    AuditAction.CASE_CREATE: _("Case opened"),
    AuditAction.CASE_UPDATE: _("Case changed"),
    AuditAction.HOLD_PLACE: _("Hold placed"),
    AuditAction.HOLD_RELEASE: _("Hold released"),
    AuditAction.SAVED_SEARCH_CREATE: _("Search saved"),
    AuditAction.RETENTION_CHANGE: _("Retention changed"),
    AuditAction.RETENTION_DRY_RUN: _("Retention dry run"),
    AuditAction.RETENTION_RUN: _("Retention run"),
    AuditAction.POLICY_CHANGE: _("Archiving policy changed"),
    AuditAction.EXPORT_CREATE: _("Export started"),
    AuditAction.EXPORT_CANCEL: _("Export cancelled"),
    AuditAction.EXPORT_DOWNLOAD: _("Export downloaded"),
    AuditAction.AUDIT_VIEW: _("Audit log viewed"),
    AuditAction.PRESENCE_LOG_VIEW: _("Presence log viewed"),
    AuditAction.SEARCH_REINDEX: _("Search index rebuilt"),
    AuditAction.CASE_VIEW: _("Case viewed"),
    AuditAction.HOLD_VIEW: _("Hold viewed"),
    AuditAction.RETENTION_VIEW: _("Retention viewed"),
    AuditAction.ACCESS_REFUSED: _("Access refused"),
    AuditAction.SUPERVISION_POLICY_CREATE: _("Supervision policy created"),
    AuditAction.SUPERVISION_ITEM_VIEW: _("Supervision item viewed"),
    AuditAction.SUPERVISION_ITEM_CLAIM: _("Supervision item claimed"),
    AuditAction.SUPERVISION_ITEM_RESOLVE: _("Supervision item resolved"),
    AuditAction.SUPERVISION_ITEM_REASSIGN: _("Supervision item reassigned"),
}


def _audit_actions() -> dict:
    return {
        "actions": [
            (value, AUDIT_ACTION_LABELS.get(value, label)) for value, label in AuditAction.choices
        ]
    }


console_audit = _console("audit.html", "audit", extra=_audit_actions)
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
