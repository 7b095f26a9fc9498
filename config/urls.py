from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("", include("directory.urls")),
    path("", include("chat.urls")),
    path("", include("presence.urls")),
    path("archive/", include("archiving.urls")),
    path("reports/", include("archiving.usage.urls")),
    path("supervision/", include("supervision.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("web.urls")),
]

if settings.PARLEY_OIDC_ENABLED:
    # OpenID Connect single sign-on: /oidc/authenticate/ starts it, /oidc/callback/ ends it.
    urlpatterns.insert(0, path("oidc/", include("mozilla_django_oidc.urls")))

handler404 = "config.api_errors.not_found"
handler500 = "config.api_errors.server_error"
