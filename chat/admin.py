from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from chat import services
from chat.models import (
    Category,
    Conversation,
    ImPolicy,
    ImPolicyAssignment,
    OutboundDelivery,
    Participant,
)
from chat.services import barriers, im_policies


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    fields = ("person", "role", "joined_at", "left_at")
    readonly_fields = ("joined_at",)
    autocomplete_fields = ("person",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Rooms and conversations as metadata; message text is for compliance officers only."""

    list_display = (
        "id",
        "kind",
        "title",
        "category",
        "privacy",
        "room_kind",
        "last_seq",
        "last_message_at",
        "is_external",
    )
    list_filter = ("kind", "privacy", "room_kind", "category", "is_external")
    search_fields = ("title", "topic", "category__name")
    readonly_fields = ("direct_key", "last_seq", "last_message_at", "created_at", "created_by")
    inlines = [ParticipantInline]


LISTS = (
    "allowed_people",
    "allowed_departments",
    "allowed_groups",
    "denied_people",
    "denied_departments",
    "denied_groups",
    "creator_people",
    "creator_departments",
    "creator_groups",
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """Room categories (ethical walls). Saving a change goes through category_update, which
    removes the members of its rooms that the category now walls out (archived)."""

    list_display = (
        "name",
        "allows_invitations",
        "allows_files",
        "keeps_history",
        "forbids_direct_im",
        "forbids_group_im",
    )
    list_filter = ("allows_invitations", "allows_files", "keeps_history")
    search_fields = ("name", "description")
    filter_horizontal = LISTS
    fieldsets = (
        (None, {"fields": ("name", "description")}),
        (_("Switches"), {"fields": ("allows_invitations", "allows_files", "keeps_history")}),
        (
            _("Who may be in its rooms (empty allowed lists: everyone; denied always wins)"),
            {"fields": LISTS[:6]},
        ),
        (_("Who may create rooms (empty: everyone allowed)"), {"fields": LISTS[6:]}),
        (
            _("Information barrier: IM between the people allowed and the people denied"),
            {"fields": ("forbids_direct_im", "forbids_group_im")},
        ),
    )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.save()  # a new category has no rooms; its lists are saved in save_related

    def save_related(self, request, form, formsets, change):
        if not change:
            super().save_related(request, form, formsets, change)
            barriers.barriers_enforce_all()  # a new wall may forbid IM at once
            return
        fields = set(services.category_fields()) & set(form.cleaned_data)
        services.category_update(
            actor=request.user,
            category_id=form.instance.pk,
            changes={name: form.cleaned_data[name] for name in fields},
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(OutboundDelivery)
class OutboundDeliveryAdmin(admin.ModelAdmin):
    """Messages to external people on their way out (metadata only, like conversations)."""

    list_display = (
        "message",
        "recipient",
        "created_at",
        "attempts",
        "sent_at",
        "failed_at",
        "error",
    )
    list_filter = ("failed_at",)
    search_fields = ("delivery_key", "recipient__username")
    readonly_fields = (
        "message",
        "recipient",
        "delivery_key",
        "created_at",
        "attempts",
        "attempted_at",
        "sent_at",
        "failed_at",
        "error",
    )

    def has_add_permission(self, request):
        return False


@admin.register(ImPolicy)
class ImPolicyAdmin(admin.ModelAdmin):
    """Lync's IM policy: whether messages wait for people who are offline (audited)."""

    list_display = ("name", "is_global", "delivers_offline")
    list_filter = ("is_global", "delivers_offline")
    search_fields = ("name",)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would bypass the audited service
        return actions

    def save_model(self, request, obj, form, change):
        im_policies.im_policy_save(actor=request.user, policy=obj)

    def delete_model(self, request, obj):
        im_policies.im_policy_delete(actor=request.user, policy=obj)


@admin.register(ImPolicyAssignment)
class ImPolicyAssignmentAdmin(admin.ModelAdmin):
    list_display = ("person", "policy")
    autocomplete_fields = ("person",)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        im_policies.im_assignment_save(actor=request.user, assignment=obj)

    def delete_model(self, request, obj):
        im_policies.im_assignment_delete(actor=request.user, assignment=obj)
