"""Pages for people in a browser; no business logic here."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_POST

from directory import services


@login_required
def home(request):
    """The employee client: contacts, presence, conversations (web/static/js/app.js)."""
    return render(request, "web/home.html", {"idle_seconds": int(settings.PARLEY_WEB_IDLE_SECONDS)})


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
