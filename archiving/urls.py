from django.urls import include, path

urlpatterns = [
    path("", include("archiving.search.urls")),
]
