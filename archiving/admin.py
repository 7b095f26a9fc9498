from django.contrib import admin, messages

from archiving.models import (
    ArchiveIndexOutbox,
    ArchivingPolicy,
    ArchivingPolicyAssignment,
    CaptureFailure,
)
from archiving.search.selectors import search_capture_lag


@admin.register(ArchivingPolicy)
class ArchivingPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "is_global", "archive_internal", "archive_external", "is_critical")


@admin.register(ArchivingPolicyAssignment)
class ArchivingPolicyAssignmentAdmin(admin.ModelAdmin):
    list_display = ("person", "policy")
    autocomplete_fields = ("person",)


@admin.register(CaptureFailure)
class CaptureFailureAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "conversation_id", "event", "message_id", "error")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ArchiveIndexOutbox)
class ArchiveIndexOutboxAdmin(admin.ModelAdmin):
    """Records waiting for the search index; the changelist shows the capture lag."""

    list_display = ("id", "record_id", "operation", "created_at")
    ordering = ("created_at",)

    def changelist_view(self, request, extra_context=None):
        lag = search_capture_lag()
        oldest = lag.oldest_at.isoformat() if lag.oldest_at else "none"
        messages.info(
            request,
            f"Search capture lag: {lag.seconds:.1f} s ({lag.pending} records waiting, oldest "
            f"queued at {oldest}).",
        )
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
