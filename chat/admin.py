from django.contrib import admin

from chat.models import Conversation, Participant


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    fields = ("person", "role", "joined_at", "left_at")
    readonly_fields = ("joined_at",)
    autocomplete_fields = ("person",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Rooms and conversations as metadata; message text is for compliance officers only."""

    list_display = ("id", "kind", "title", "last_seq", "last_message_at", "is_external")
    list_filter = ("kind", "is_external")
    search_fields = ("title", "topic")
    readonly_fields = ("direct_key", "last_seq", "last_message_at", "created_at", "created_by")
    inlines = [ParticipantInline]
