from django.contrib import admin

from federation.models import OutboundMessage, Subscription, XmppAddress


@admin.register(XmppAddress)
class XmppAddressAdmin(admin.ModelAdmin):
    list_display = ("jid", "person", "domain", "created_at")
    search_fields = ("jid", "person__username")
    readonly_fields = ("person", "jid", "domain", "created_at")


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("message", "recipient", "created_at", "sent_at", "failed_at", "error")
    list_filter = ("failed_at",)
    readonly_fields = (
        "message",
        "recipient",
        "stanza_id",
        "created_at",
        "sent_at",
        "failed_at",
        "error",
    )

    def has_add_permission(self, request):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("local", "remote", "remote_sees_local", "local_sees_remote", "is_requested")
    search_fields = ("local__username", "remote__username")
