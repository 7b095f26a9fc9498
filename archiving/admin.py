"""Django admin for the archive. Every change goes through the audited services; the audit
trail, cases and holds are read-only here, and cases, holds and the audit trail are shown only
to compliance officers (administrators do not read the archive unless they are officers)."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from archiving import policies, retention
from archiving.access import is_compliance_officer
from archiving.audit import audit_append
from archiving.models import (
    ArchiveIndexOutbox,
    ArchivingPolicy,
    ArchivingPolicyAssignment,
    AuditAction,
    AuditEntry,
    CaptureFailure,
    Case,
    ChainGap,
    LegalHold,
    RetentionPolicy,
    RetentionPurge,
    SavedSearch,
)
from archiving.search import indexing
from archiving.search.selectors import search_capture_lag, search_parked_count
from archiving.selectors import archive_and_audit_verify
from directory.exceptions import ServiceError


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing here is added, changed or deleted from admin."""

    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ComplianceReadOnlyAdmin(ReadOnlyAdmin):
    """Read-only, visible to compliance officers only, and every page view is audited."""

    view_action = AuditAction.CASE_VIEW

    def has_module_permission(self, request):
        return is_compliance_officer(request.user)

    def has_view_permission(self, request, obj=None):
        return is_compliance_officer(request.user)

    def _audit_view(self, request, target: str) -> None:
        if request.method == "GET" and is_compliance_officer(request.user):
            audit_append(
                actor=request.user,
                action=self.view_action,
                target=target,
                parameters={"via": "admin"},
            )

    def changelist_view(self, request, extra_context=None):
        self._audit_view(request, f"admin {self.model._meta.model_name} list")
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._audit_view(request, f"admin {self.model._meta.model_name} {object_id}")
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ArchivingPolicy)
class ArchivingPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "is_global", "archive_internal", "archive_external", "is_critical")
    list_filter = ("is_global", "archive_internal", "archive_external", "is_critical")
    search_fields = ("name",)
    # No bulk delete (it would bypass the audited service). These act on the whole archive
    # whatever is selected: Django admin actions need a selection, so select any policy.
    actions = ["verify_archive", "rebuild_search_index"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Rebuild the archive search index (as manage.py search_reindex)"))
    def rebuild_search_index(self, request, queryset):
        """Empty the index and queue every record; the workers index them (audited)."""
        queued = indexing.search_reindex(actor=request.user)
        self.message_user(
            request,
            _(
                "Search index emptied; %(records)s records and %(messages)s messages (history "
                "search) queued for indexing. The capture lag on “Archive index outbox” shows "
                "the progress."
            )
            % {"records": queued.records, "messages": queued.messages},
            messages.SUCCESS,
        )

    @admin.action(description=_("Verify the archive (every hash chain and the audit trail)"))
    def verify_archive(self, request, queryset):
        """Run archive_verify and show its result as a message (audited like the API's)."""
        report, audit = archive_and_audit_verify()
        summary = _("%(chains)s chains, %(records)s records, %(entries)s audit entries checked") % {
            "chains": report.chains,
            "records": report.records,
            "entries": audit.entries,
        }
        audit_append(
            actor=request.user,
            action=AuditAction.VERIFY,
            target="archive",
            parameters={
                "intact": report.is_intact and audit.is_intact,
                "chains": report.chains,
                "records": report.records,
                "broken": len(report.broken) + len(report.anchor_problems),
                "audit_intact": audit.is_intact,
                "via": "admin",
            },
            result_count=report.records,
        )
        if report.is_intact and audit.is_intact:
            self.message_user(
                request,
                _("Archive verified: %(summary)s; all intact.") % {"summary": summary},
                messages.SUCCESS,
            )
            return
        problems = [
            f"conversation {b.conversation_id} link {b.chain_index}: {b.reason}"
            for b in report.broken
        ] + [str(p) for p in report.anchor_problems]
        if not audit.is_intact:
            problems.append(f"audit trail at entry {audit.broken_at}: {audit.reason}")
        self.message_user(
            request,
            _("Archive verification FAILED: %(summary)s; broken: %(problems)s")
            % {"summary": summary, "problems": "; ".join(problems[:10])},
            messages.ERROR,
        )

    def save_model(self, request, obj, form, change):
        policies.archiving_policy_save(actor=request.user, policy=obj)

    def delete_model(self, request, obj):
        policies.archiving_policy_delete(actor=request.user, policy=obj)


@admin.register(ArchivingPolicyAssignment)
class ArchivingPolicyAssignmentAdmin(admin.ModelAdmin):
    list_display = ("person", "policy")
    list_filter = ("policy",)
    search_fields = ("person__username", "person__display_name")
    list_select_related = ("person", "policy")
    autocomplete_fields = ("person",)
    actions = None

    def save_model(self, request, obj, form, change):
        policies.archiving_assignment_save(actor=request.user, assignment=obj)

    def delete_model(self, request, obj):
        policies.archiving_assignment_delete(actor=request.user, assignment=obj)


@admin.register(CaptureFailure)
class CaptureFailureAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "conversation_id", "event", "message_id", "error")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RetentionPolicyForm(forms.ModelForm):
    class Meta:
        model = RetentionPolicy
        fields = ("scope", "person", "conversation_id", "days", "is_active")

    def clean(self):
        cleaned = super().clean()
        try:
            retention.policy_validate(policy_id=self.instance.pk, data=self.service_data(cleaned))
        except ServiceError as error:
            raise forms.ValidationError(error.detail) from None
        return cleaned

    def service_data(self, cleaned: dict) -> dict:
        data = {"days": cleaned.get("days"), "is_active": cleaned.get("is_active", True)}
        if self.instance.pk is None:
            person = cleaned.get("person")
            data.update(
                scope=cleaned.get("scope"),
                person=person.username if person else None,
                conversation=cleaned.get("conversation_id"),
            )
        return data


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    """Saved through the retention service: audited, with the change's dry run."""

    form = RetentionPolicyForm
    list_display = ("__str__", "scope", "days", "is_active", "updated_at")
    list_filter = ("scope", "is_active")
    search_fields = ("person__username", "person__display_name", "conversation_id")
    autocomplete_fields = ("person",)
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return ("scope", "person", "conversation_id") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        policy, _created = retention.retention_policy_save(
            actor=request.user,
            policy_id=obj.pk,
            data=form.service_data(form.cleaned_data),
        )
        obj.pk = policy.pk
        obj.created_at, obj.updated_at = policy.created_at, policy.updated_at

    def delete_model(self, request, obj):
        retention.retention_policy_delete(actor=request.user, policy_id=obj.pk)


class ChainGapInline(admin.TabularInline):
    model = ChainGap
    fields = ("conversation_id", "from_index", "to_index", "prev_hash_before", "prev_hash_after")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RetentionPurge)
class RetentionPurgeAdmin(ReadOnlyAdmin):
    list_display = ("run_at", "run_id", "records_purged")
    inlines = (ChainGapInline,)


@admin.register(AuditEntry)
class AuditEntryAdmin(ComplianceReadOnlyAdmin):
    view_action = AuditAction.AUDIT_VIEW
    list_display = ("sequence", "occurred_at", "actor_username", "action", "target")
    list_filter = ("action",)
    search_fields = ("actor_username", "target")
    ordering = ("-sequence",)


@admin.register(Case)
class CaseAdmin(ComplianceReadOnlyAdmin):
    list_display = ("name", "status", "owner", "created_at")
    list_filter = ("status",)


@admin.register(LegalHold)
class LegalHoldAdmin(ComplianceReadOnlyAdmin):
    view_action = AuditAction.HOLD_VIEW
    list_display = ("pk", "case", "placed_by", "placed_at", "released_at")


@admin.register(SavedSearch)
class SavedSearchAdmin(ComplianceReadOnlyAdmin):
    list_display = ("name", "case", "created_by", "created_at")


@admin.register(ArchiveIndexOutbox)
class ArchiveIndexOutboxAdmin(admin.ModelAdmin):
    """Records waiting for the search index; the changelist shows the capture lag."""

    list_display = ("id", "record_id", "operation", "created_at", "parked_at", "parked_reason")
    list_filter = (("parked_at", admin.EmptyFieldListFilter),)
    ordering = ("created_at",)
    actions = ("unpark_selected",)

    def changelist_view(self, request, extra_context=None):
        lag = search_capture_lag()
        oldest = lag.oldest_at.isoformat() if lag.oldest_at else _("none")
        parked = search_parked_count()
        messages.info(
            request,
            _(
                "Search capture lag: %(seconds).1f s (%(pending)s records waiting, oldest "
                "queued at %(oldest)s); %(parked)s parked (refused by the search backend)."
            )
            % {"seconds": lag.seconds, "pending": lag.pending, "oldest": oldest, "parked": parked},
        )
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Queue the selected parked rows again"))
    def unpark_selected(self, request, queryset):
        count = indexing.search_index_unpark(
            record_ids=list(
                queryset.filter(parked_at__isnull=False).values_list("record_id", flat=True)
            )
        )
        messages.info(request, _("%(count)s parked rows queued again.") % {"count": count})

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
