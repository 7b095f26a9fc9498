from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import JavaScriptCatalog

from web import views

urlpatterns = [
    path("", views.home, name="home"),
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
]
