"""HTTP edge for presence and contacts."""

from datetime import datetime

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving.access import IsComplianceOfficer
from archiving.audit import audit_append
from archiving.models import AuditAction
from directory.exceptions import InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.moments import MOMENT_SCHEMA, moment_parse
from directory.selectors import person_get_active, person_get_any
from presence import distribution_groups, selectors, services
from presence.models import MANUAL_CHOICES, Activity

PRESENCE_FIELDS = (
    "availability",
    "custom_state",
    "expires_in_minutes",
    "activity",
    "note",
    "out_of_office_note",
    "location",
    "is_privacy_mode",
)


class PresenceSetInputSerializer(serializers.Serializer):
    """Documents PUT /presence/; every field is optional and only given ones change."""

    availability = serializers.ChoiceField(
        choices=[*MANUAL_CHOICES, ""], required=False, allow_blank=True, allow_null=True
    )
    custom_state = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )
    expires_in_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=30 * 24 * 60
    )
    activity = serializers.ChoiceField(
        choices=[*Activity.values, ""], required=False, allow_blank=True, allow_null=True
    )
    note = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=500)
    out_of_office_note = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=500
    )
    location = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=200
    )
    is_privacy_mode = serializers.BooleanField(required=False)


def presence_changes(data) -> dict:
    """Return the presence fields of a request body, refusing anything else."""
    if not isinstance(data, dict):
        raise InvalidInput(_("The body must be a JSON object."))
    unknown = sorted(set(data) - set(PRESENCE_FIELDS) - {"type", "ref"})
    if unknown:
        raise InvalidInput(
            _("Unknown field(s) %(unknown)s; presence takes %(PRESENCE_FIELDS)s.")
            % {"unknown": ", ".join(unknown), "PRESENCE_FIELDS": ", ".join(PRESENCE_FIELDS)}
        )
    return {k: data[k] for k in PRESENCE_FIELDS if k in data}


class PresenceApi(APIView):
    """Set my presence (PUT); only the fields given change."""

    @extend_schema(request=PresenceSetInputSerializer, responses=OpenApiTypes.OBJECT)
    def put(self, request):
        services.presence_set(person=request.user, **presence_changes(request.data))
        return Response(selectors.presence_for_watcher(person=request.user, watcher=request.user))

    @extend_schema(operation_id="presence_me", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(selectors.presence_for_watcher(person=request.user, watcher=request.user))


class PresenceDetailApi(APIView):
    """What I may see of someone's presence."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, username: str):
        person = person_get_active(username=username)
        if person is None:
            raise NotFound(
                _("No active person named %(username)s.") % {"username": username},
                code="person_not_found",
            )
        return Response(selectors.presence_for_watcher(person=person, watcher=request.user))


class PresenceStatesApi(APIView):
    """The states I can choose: built-in and the administrators' custom ones."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(selectors.presence_states_list())


class ContactInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    group = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    relationship = serializers.CharField(required=False, allow_null=True, default=None)


class ContactUpdateInputSerializer(serializers.Serializer):
    group = serializers.CharField(max_length=100, required=False, allow_blank=True)
    relationship = serializers.CharField(required=False)


def contact_to_dict(contact, presence: dict) -> dict:
    return {
        "username": contact.person.username,
        "display_name": contact.person.name,
        "group": contact.group,
        "relationship": contact.relationship,
        "presence": presence,
    }


class ContactListApi(APIView):
    """My contact list with each contact's presence; POST adds one."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        contacts = selectors.contact_list(owner=request.user)
        seen = selectors.presence_for_watcher_many(
            people=[c.person for c in contacts], watcher=request.user
        )
        return Response(
            {"results": [contact_to_dict(c, p) for c, (_, p) in zip(contacts, seen, strict=True)]}
        )

    @extend_schema(request=ContactInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = ContactInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = services.contact_add(owner=request.user, **data.validated_data)
        presence = selectors.presence_for_watcher(person=contact.person, watcher=request.user)
        return Response(contact_to_dict(contact, presence), status=status.HTTP_201_CREATED)


class ContactDetailApi(APIView):
    """Change a contact's group or relationship (PATCH) or remove them (DELETE)."""

    @extend_schema(request=ContactUpdateInputSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, username: str):
        data = ContactUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = services.contact_update(
            owner=request.user, username=username, **data.validated_data
        )
        presence = selectors.presence_for_watcher(person=contact.person, watcher=request.user)
        return Response(contact_to_dict(contact, presence))

    @extend_schema(responses={204: None})
    def delete(self, request, username: str):
        services.contact_remove(owner=request.user, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _moment(request, name: str) -> datetime:
    moment = moment_parse(request.query_params.get(name), field=name, is_end=name == "end")
    if moment is None:
        raise InvalidInput(
            _("%(name)s is required: an ISO 8601 time, e.g. 2026-11-02T09:00:00Z.") % {"name": name}
        )
    return moment


class PresenceLogApi(APIView):
    """A person's availability over a time range, for compliance officers (audited)."""

    permission_classes = (IsComplianceOfficer,)
    max_entries = 5000

    @extend_schema(
        parameters=[
            OpenApiParameter("username", {"type": "string", "minLength": 1}, required=True),
            OpenApiParameter("start", MOMENT_SCHEMA, required=True),
            OpenApiParameter("end", MOMENT_SCHEMA, required=True),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        username = request.query_params.get("username", "")
        if not username:
            raise InvalidInput(_("username is required."))
        start, end = _moment(request, "start"), _moment(request, "end")
        if start > end:
            raise InvalidInput(_("start must not be after end."))
        person = person_get_any(username=username)
        if person is None:
            raise NotFound(_("No person named %(username)r.") % {"username": username})
        with transaction.atomic():
            entries = selectors.presence_log_list(
                person=person, start=start, end=end, limit=self.max_entries
            )
            audit_append(
                actor=request.user,
                action=AuditAction.PRESENCE_LOG_VIEW,
                target=f"person {person.username}",
                parameters={"username": person.username, "start": start, "end": end},
                result_count=len(entries),
            )
        return Response(
            {
                "user": person.username,
                "start": start,
                "end": end,
                "availability_at_start": selectors.availability_at(person=person, at=start),
                "entries": [
                    {
                        "at": entry.at,
                        "from": entry.from_availability,
                        "to": entry.to_availability,
                        "reason": entry.reason,
                    }
                    for entry in entries
                ],
                "is_truncated": len(entries) == self.max_entries,
            }
        )


class ContactGroupInputSerializer(serializers.Serializer):
    group = serializers.CharField(max_length=150)


def contact_group_to_dict(group, members) -> dict:
    return {
        "name": group.name,
        "members": [
            {"username": m.username, "display_name": m.name, "presence": presence}
            for m, _, presence in members
        ],
    }


class ContactGroupListApi(APIView):
    """My distribution groups, each expanded to its current members with their presence;
    POST adds a directory group."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        groups = distribution_groups.contact_group_list(owner=request.user)
        return Response({"results": [contact_group_to_dict(g, m) for g, m in groups]})

    @extend_schema(request=ContactGroupInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = ContactGroupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = distribution_groups.contact_group_add(
            owner=request.user, name=data.validated_data["group"]
        )
        [(group, members)] = distribution_groups.contact_group_list(
            owner=request.user, group_id=group.pk
        )
        return Response(contact_group_to_dict(group, members), status=status.HTTP_201_CREATED)


class ContactGroupDetailApi(APIView):
    """Remove a distribution group from my contacts."""

    @extend_schema(responses={204: None})
    def delete(self, request, name: str):
        distribution_groups.contact_group_remove(owner=request.user, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)
