from django.urls import path

from archiving.apis import exports

urlpatterns = [
    path("exports/", exports.ExportListCreateApi.as_view(), name="archive-exports"),
    path("exports/<int:export_id>/", exports.ExportDetailApi.as_view(), name="archive-export"),
    path(
        "exports/<int:export_id>/cancel/",
        exports.ExportCancelApi.as_view(),
        name="archive-export-cancel",
    ),
    path(
        "exports/<int:export_id>/download/",
        exports.ExportDownloadApi.as_view(),
        name="archive-export-download",
    ),
]
