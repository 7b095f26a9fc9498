from django.conf import settings
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from web import views

urlpatterns = [
    path("", views.home, name="home"),
    # Deep links: a conversation, and a message in it (the client opens them; a conversation I
    # am not in gets the same 404 as one that does not exist).
    path("c/<int:conversation_id>/", views.home, name="conversation"),
    path("c/<int:conversation_id>/m/<int:seq>/", views.home, name="conversation-message"),
    path("favicon.ico", RedirectView.as_view(url=static("img/parley.svg"), permanent=True)),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html",
            redirect_authenticated_user=True,
            extra_context={"sso_enabled": settings.PARLEY_OIDC_ENABLED},
        ),
        name="login",
    ),
    path("logout/", views.logout, name="logout"),
    path("language/", views.language_set, name="language"),
    # The web client's strings in the request's language: gettext() in web/static/js.
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["web"]), name="javascript-catalog"),
    path("presence-element/", views.presence_element, name="presence-element"),
    path("rooms/", views.rooms, name="rooms"),
    path("console/", views.console_search, name="console"),
    path("console/cases/", views.console_cases, name="console-cases"),
    path("console/cases/<int:case_id>/", views.console_case, name="console-case"),
    path("console/exports/", views.console_exports, name="console-exports"),
    path("console/audit/", views.console_audit, name="console-audit"),
    path("console/health/", views.console_health, name="console-health"),
    path("console/presence/", views.console_presence, name="console-presence"),
    path("console/supervision/", views.console_supervision, name="console-supervision"),
    path(
        "console/supervision/policies/",
        views.console_supervision_policies,
        name="console-supervision-policies",
    ),
    path("console/usage/", views.console_usage, name="console-usage"),
]
