"""Supervision in Django admin: read-only views for the people who run it.

Policies are created through the audited service (the API and the console); the admin shows
them and the review items and changes nothing, so no change escapes the audit trail.
"""

from django.contrib import admin

from supervision.access import is_supervisor
from supervision.models import ReviewItem, SupervisionPolicy


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return is_supervisor(request.user)

    def has_module_permission(self, request) -> bool:
        return is_supervisor(request.user)


@admin.register(SupervisionPolicy)
class SupervisionPolicyAdmin(_ReadOnly):
    list_display = ("name", "scope", "sample_percent", "start_at", "end_at", "is_active")
    search_fields = ("name",)


@admin.register(ReviewItem)
class ReviewItemAdmin(_ReadOnly):
    list_display = ("pk", "policy", "reason", "status", "reviewer", "decision", "created_at")
    list_filter = ("status", "reason", "decision")
