"""JSON shapes of people and tokens, and the one way answers write a time."""

from datetime import UTC, datetime

from rest_framework import serializers

from directory.models import Person


def timestamp(value: datetime | None) -> str | None:
    """Return an ISO 8601 UTC timestamp with a Z, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class PersonSummarySerializer(serializers.ModelSerializer):
    """How a person appears next to a message or in a list."""

    display_name = serializers.CharField(source="name")

    class Meta:
        model = Person
        fields = ["username", "display_name"]


def person_summary(person: Person) -> dict:
    """Return the summary dict without serializer overhead (hot path)."""
    return {"username": person.username, "display_name": person.name}


class PersonSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(source="name")
    department = serializers.CharField(source="department.name", default=None, allow_null=True)
    is_compliance_officer = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [
            "username",
            "display_name",
            "email",
            "title",
            "department",
            "company",
            "work_phone",
            "is_external",
            "is_staff",
            "is_compliance_officer",
        ]

    def get_is_compliance_officer(self, person: Person) -> bool:
        # all() so a prefetch_related("groups") of a listing serves every row
        return any(group.name == "Compliance" for group in person.groups.all())


class TokenCreateInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenCreateOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the token ends at the latest; it also ends after "
        "PARLEY_TOKEN_IDLE_SECONDS unused, or when revoked.",
    )
    user = PersonSerializer()


class _LanguageSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class PreferencesSerializer(serializers.Serializer):
    """GET/PATCH /api/v1/me/preferences/ ("" = not chosen)."""

    language = serializers.CharField(allow_blank=True)
    time_zone = serializers.CharField(allow_blank=True)
    effective_language = serializers.CharField()
    effective_time_zone = serializers.CharField()
    languages = _LanguageSerializer(many=True)
