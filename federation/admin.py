from django.contrib import admin

from federation.models import Subscription, XmppAddress


@admin.register(XmppAddress)
class XmppAddressAdmin(admin.ModelAdmin):
    list_display = ("jid", "person", "domain", "created_at")
    search_fields = ("jid", "person__username")
    readonly_fields = ("person", "jid", "domain", "created_at")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("local", "remote", "remote_sees_local", "local_sees_remote", "is_requested")
    search_fields = ("local__username", "remote__username")
