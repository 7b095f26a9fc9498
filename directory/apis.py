"""HTTP edge for sign-in tokens and the directory."""

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, status
from rest_framework import serializers as drf_serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from directory import selectors, services
from directory.exceptions import InvalidInput
from directory.models import ApiToken, MailboxSync, Person
from directory.serializers import (
    PersonSerializer,
    TokenCreateInputSerializer,
    TokenCreateOutputSerializer,
    timestamp,
)
from presence.selectors import presence_for_watcher_many


class TokenApi(APIView):
    """Issue an API token for a username and password; DELETE revokes the token used."""

    def _is_sign_in(self) -> bool:
        return self.request is not None and self.request.method == "POST"

    def get_permissions(self):
        if self._is_sign_in():
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_authenticators(self):
        if self._is_sign_in():
            return []
        return super().get_authenticators()

    @extend_schema(request=TokenCreateInputSerializer, responses={201: TokenCreateOutputSerializer})
    def post(self, request):
        data = TokenCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, plaintext = services.token_create_for_credentials(**data.validated_data)
        body = {
            "token": plaintext,
            "expires_at": timestamp(selectors.token_expires_at(token=token)),
            "user": PersonSerializer(token.person).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        if not isinstance(request.auth, ApiToken):
            raise InvalidInput(
                "DELETE revokes the bearer token of the request; this request has none "
                "(sign out of a browser session at /logout/).",
                code="no_token",
            )
        services.token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """Return the signed-in person."""

    @extend_schema(responses=PersonSerializer)
    def get(self, request):
        return Response(PersonSerializer(request.user).data)


def mailbox_sync_to_dict(*, sync: MailboxSync) -> dict:
    return {
        "conversation_history": sync.keeps_conversation_history,
        "contact_sync": sync.syncs_contacts,
        "offered": {
            feature: services.mailbox_feature_is_on(feature=feature)
            for feature in services.MAILBOX_FEATURES
        },
        "history_checked_until": timestamp(sync.history_checked_until),
        "contacts_synced_at": timestamp(sync.contacts_synced_at),
        "last_error": sync.last_error,
        "last_error_at": timestamp(sync.last_error_at),
    }


MAILBOX_SYNC_SCHEMA = inline_serializer(
    "MailboxSync",
    {
        "conversation_history": drf_serializers.BooleanField(),
        "contact_sync": drf_serializers.BooleanField(),
        "offered": drf_serializers.DictField(child=drf_serializers.BooleanField()),
        "history_checked_until": drf_serializers.DateTimeField(allow_null=True),
        "contacts_synced_at": drf_serializers.DateTimeField(allow_null=True),
        "last_error": drf_serializers.CharField(),
        "last_error_at": drf_serializers.DateTimeField(allow_null=True),
    },
)


class MailboxSyncApi(APIView):
    """What Parley keeps in my own mailbox (conversation history, contacts) and how it went."""

    @extend_schema(responses=MAILBOX_SYNC_SCHEMA)
    def get(self, request):
        sync = MailboxSync.objects.filter(person=request.user).first() or MailboxSync(
            person=request.user
        )
        return Response(mailbox_sync_to_dict(sync=sync))

    @extend_schema(
        request=inline_serializer(
            "MailboxSyncUpdate",
            {
                "conversation_history": drf_serializers.BooleanField(required=False),
                "contact_sync": drf_serializers.BooleanField(required=False),
            },
        ),
        responses=MAILBOX_SYNC_SCHEMA,
    )
    def patch(self, request):
        if not isinstance(request.data, dict):
            raise InvalidInput(gettext('Send an object, e.g. {"conversation_history": true}.'))
        sync = services.mailbox_sync_update(person=request.user, choices=dict(request.data))
        return Response(mailbox_sync_to_dict(sync=sync))


class UserListApi(APIView):
    """Search the directory of active people."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                {"type": "string", "maxLength": 200},
                description="Part of a name, username or e-mail",
            )
        ],
        responses=inline_serializer("PersonPage", {"results": PersonSerializer(many=True)}),
    )
    def get(self, request):
        query = request.query_params.get("q", "")
        if len(query) > 200:
            raise InvalidInput("q is limited to 200 characters.")
        people = list(selectors.person_list_search(query=query))
        # Presence shows wherever a name does, and every field of a person goes through the
        # same privacy projection: what each person lets the caller see, nothing more.
        seen = presence_for_watcher_many(people=people, watcher=request.user)
        results = [
            directory_entry(person=person, projection=projection, caller=request.user)
            for person, (_, projection) in zip(people, seen, strict=True)
        ]
        return Response({"results": results})


# The fields of a directory entry that the privacy projection decides (DESIGN.md section 4).
PROJECTED_FIELDS = ("email", "title", "department", "company", "work_phone")


def directory_entry(*, person: Person, projection: dict, caller: Person) -> dict:
    """Return one directory entry: the person's fields as the projection lets the caller see
    them (withheld ones left out), with that presence; the caller sees all of their own."""
    if person.pk == caller.pk:
        return {**PersonSerializer(person).data, "presence": projection}
    entry = {
        "username": person.username,
        "display_name": person.name,
        "is_external": person.is_external,
    }
    entry.update({key: projection[key] for key in PROJECTED_FIELDS if key in projection})
    entry["presence"] = projection
    return entry
