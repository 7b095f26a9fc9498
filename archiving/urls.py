from django.urls import include, path

from archiving.apis import audit, cases, exports, pickers, retention

urlpatterns = [
    path("", include("archiving.search.urls")),
    path("cases/", cases.CaseListCreateApi.as_view(), name="archive-cases"),
    path("cases/<int:case_id>/", cases.CaseDetailApi.as_view(), name="archive-case"),
    path("cases/<int:case_id>/holds/", cases.HoldListPlaceApi.as_view(), name="archive-case-holds"),
    path(
        "cases/<int:case_id>/saved-searches/",
        cases.SavedSearchListCreateApi.as_view(),
        name="archive-case-saved-searches",
    ),
    path("holds/<int:hold_id>/", cases.HoldDetailApi.as_view(), name="archive-hold"),
    path(
        "holds/<int:hold_id>/release/",
        cases.HoldReleaseApi.as_view(),
        name="archive-hold-release",
    ),
    path(
        "retention/policies/",
        retention.RetentionPolicyListCreateApi.as_view(),
        name="archive-retention-policies",
    ),
    path(
        "retention/policies/<int:policy_id>/",
        retention.RetentionPolicyDetailApi.as_view(),
        name="archive-retention-policy",
    ),
    path(
        "retention/dry-run/",
        retention.RetentionDryRunApi.as_view(),
        name="archive-retention-dry-run",
    ),
    path(
        "retention/purges/",
        retention.RetentionPurgeListApi.as_view(),
        name="archive-retention-purges",
    ),
    path("audit/", audit.AuditListApi.as_view(), name="archive-audit"),
    path("verify/", audit.ArchiveVerifyApi.as_view(), name="archive-verify"),
    path("exports/", exports.ExportListCreateApi.as_view(), name="archive-exports"),
    path("exports/<int:export_id>/", exports.ExportDetailApi.as_view(), name="archive-export"),
    path(
        "exports/<int:export_id>/cancel/",
        exports.ExportCancelApi.as_view(),
        name="archive-export-cancel",
    ),
    path("people/", pickers.PersonPickApi.as_view(), name="archive-people-pick"),
    path(
        "conversations/", pickers.ConversationPickApi.as_view(), name="archive-conversations-pick"
    ),
    path("signing-key/", exports.SigningKeyApi.as_view(), name="archive-signing-key"),
    path(
        "exports/<int:export_id>/download/",
        exports.ExportDownloadApi.as_view(),
        name="archive-export-download",
    ),
]
