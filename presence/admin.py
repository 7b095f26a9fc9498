from django.contrib import admin

from presence.models import Contact, CustomPresenceState, Endpoint


@admin.register(CustomPresenceState)
class CustomPresenceStateAdmin(admin.ModelAdmin):
    list_display = ("label", "colour_class", "is_active", "order")
    list_editable = ("is_active", "order")
    list_filter = ("colour_class", "is_active")
    search_fields = ("label",)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("owner", "person", "group", "relationship")
    search_fields = ("owner__username", "person__username")
    autocomplete_fields = ("owner", "person")


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("person", "device", "server", "connected_at", "last_seen_at", "idle_since")
    list_filter = ("server",)

    def has_add_permission(self, request):
        return False
