from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from directory import services
from directory.models import ApiToken, Department, FederationPartner, Person


@admin.register(Person)
class PersonAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        (
            "Profile",
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
                )
            },
        ),
    )
    list_display = ("username", "display_name", "email", "department", "is_active", "is_staff")
    list_filter = (*UserAdmin.list_filter, "department", "is_external")
    search_fields = ("username", "display_name", "email")

    def save_model(self, request, obj, form, change):
        was_active = change and Person.objects.filter(pk=obj.pk, is_active=True).exists()
        super().save_model(request, obj, form, change)
        if was_active and not obj.is_active:
            # Closes the person's open sockets at once.
            services.person_deactivate(person=obj)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
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
