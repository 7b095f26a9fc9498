from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from directory import services
from directory.locale import time_zone_valid
from directory.models import (
    ApiToken,
    Department,
    DirectoryChange,
    DirectoryGroup,
    FederationPartner,
    MailboxSync,
    OrganisationSettings,
    Person,
)


@admin.register(Person)
class PersonAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        (
            _("Profile"),
            {
                "fields": (
                    "display_name",
                    "title",
                    "department",
                    "company",
                    "work_phone",
                    "mobile_phone",
                    "home_phone",
                    "photo",
                    "is_external",
                    "manager",
                    "directory_dn",
                )
            },
        ),
        (_("Language and time zone"), {"fields": ("language", "time_zone")}),
    )
    list_display = ("username", "display_name", "email", "department", "is_active", "is_staff")
    list_filter = (*UserAdmin.list_filter, "department", "is_external")
    search_fields = ("username", "display_name", "email")
    list_select_related = ("department",)
    raw_id_fields = ("manager",)
    actions = ["apply_archiving_policy", "deactivate_people"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # At once; the sockets' access sweep would close them within seconds anyway.
            services.person_sockets_close(person_id=obj.pk)

    @admin.action(description=_("Deactivate the selected people"))
    def deactivate_people(self, request, queryset):
        """Deactivate each selected person: tokens stop working, sockets close at once."""
        people = list(queryset.filter(is_active=True))
        with transaction.atomic():
            for person in people:
                services.person_deactivate(person=person)
        count = len(people)
        self.message_user(
            request,
            ngettext("Deactivated %(count)s person.", "Deactivated %(count)s people.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Apply an archiving policy to the selected people"))
    def apply_archiving_policy(self, request, queryset):
        """Ask for the policy (an intermediate page), then store each person's override through
        the audited service."""
        from archiving import policies
        from archiving.models import ArchivingPolicy, ArchivingPolicyAssignment

        form = ArchivingPolicyChoiceForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            policy = form.cleaned_data["policy"]
            with transaction.atomic():
                for person in queryset:
                    assignment = ArchivingPolicyAssignment.objects.filter(person=person).first()
                    assignment = assignment or ArchivingPolicyAssignment(person=person)
                    assignment.policy = policy
                    policies.archiving_assignment_save(actor=request.user, assignment=assignment)
            count = queryset.count()
            self.message_user(
                request,
                ngettext(
                    "The archiving policy %(policy)s now applies to %(count)s person.",
                    "The archiving policy %(policy)s now applies to %(count)s people.",
                    count,
                )
                % {"policy": policy, "count": count},
                messages.SUCCESS,
            )
            return None
        if not ArchivingPolicy.objects.exists():
            self.message_user(request, _("Create an archiving policy first."), messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Apply an archiving policy"),
            "people": queryset,
            "form": form or ArchivingPolicyChoiceForm(),
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        template = "admin/directory/person/apply_archiving_policy.html"
        return TemplateResponse(request, template, context)


class ArchivingPolicyChoiceForm(forms.Form):
    policy = forms.ModelChoiceField(queryset=None, label=_("Archiving policy"))

    def __init__(self, *args, **kwargs):
        from archiving.models import ArchivingPolicy

        super().__init__(*args, **kwargs)
        self.fields["policy"].queryset = ArchivingPolicy.objects.order_by("name")


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """Groups (the Compliance group among them) with how many people are in each."""

    list_display = ("name", "member_count")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(members=Count("user", distinct=True))

    @admin.display(description=_("People"), ordering="members")
    def member_count(self, group):
        return group.members


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "person", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("person", "key_hash", "prefix", "created_at", "last_used_at")
    list_filter = ("revoked_at",)
    search_fields = ("person__username", "prefix")

    def has_add_permission(self, request):
        return False


@admin.register(FederationPartner)
class FederationPartnerAdmin(admin.ModelAdmin):
    list_display = ("domain", "status", "note", "created_at")
    list_filter = ("status",)
    search_fields = ("domain",)

    def save_model(self, request, obj, form, change):
        obj.domain = obj.domain.strip().lower()  # JID domains compare in lower case
        super().save_model(request, obj, form, change)


@admin.register(DirectoryGroup)
class DirectoryGroupAdmin(admin.ModelAdmin):
    """Groups whose members the directory sync sets (link a local group by its LDAP DN)."""

    list_display = ("group", "dn", "synced_at")
    search_fields = ("group__name", "dn")
    readonly_fields = ("synced_at",)


@admin.register(DirectoryChange)
class DirectoryChangeAdmin(admin.ModelAdmin):
    """What the directory sync changed: read-only, as an audit trail is."""

    list_display = ("occurred_at", "action", "target", "run")
    list_filter = ("action",)
    search_fields = ("target",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MailboxSync)
class MailboxSyncAdmin(admin.ModelAdmin):
    """Who keeps conversation history and contacts in their mailbox, and the last error."""

    list_display = [
        "person",
        "keeps_conversation_history",
        "syncs_contacts",
        "history_checked_until",
        "contacts_synced_at",
        "last_error_at",
    ]
    list_filter = ["keeps_conversation_history", "syncs_contacts"]
    search_fields = ["person__username", "person__email"]
    readonly_fields = ["history_checked_until", "contacts_synced_at", "last_error", "last_error_at"]
    autocomplete_fields = ["person"]


@admin.register(OrganisationSettings)
class OrganisationSettingsAdmin(admin.ModelAdmin):
    """The organisation's default language and time zone: one row, changed, never deleted."""

    list_display = ("__str__", "default_language", "default_time_zone")

    def has_add_permission(self, request) -> bool:
        return not OrganisationSettings.objects.filter(pk=1).exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        services.organisation_settings_set(
            default_language=obj.default_language, default_time_zone=obj.default_time_zone
        )
        obj.pk = 1

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class Form(form):
            def clean_default_time_zone(self):
                value = self.cleaned_data["default_time_zone"]
                if not time_zone_valid(value):
                    raise forms.ValidationError(
                        _("Not an IANA time zone; for example Asia/Seoul or Asia/Taipei.")
                    )
                return value

        return Form
