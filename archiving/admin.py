from django.contrib import admin

from archiving.models import (
    ArchivingPolicy,
    ArchivingPolicyAssignment,
    CaptureFailure,
)


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
