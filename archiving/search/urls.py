from django.urls import path

from archiving.search import apis

urlpatterns = [
    path("search/", apis.ArchiveSearchApi.as_view(), name="archive-search"),
    path("records/<int:record_id>/", apis.ArchiveRecordApi.as_view(), name="archive-record"),
    path(
        "records/<int:record_id>/context/",
        apis.ArchiveRecordContextApi.as_view(),
        name="archive-record-context",
    ),
    path("health/", apis.ArchiveHealthApi.as_view(), name="archive-health"),
]
