"""HTTP edge for sign-in tokens and the directory."""

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework import serializers as drf_serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from directory import selectors, services
from directory.exceptions import InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.input_screening import request_object
from directory.locale import language_choose, time_zone_choose
from directory.models import ApiToken, MailboxSync, Person
from directory.serializers import (
    PersonSerializer,
    PreferencesSerializer,
    TokenCreateInputSerializer,
    TokenCreateOutputSerializer,
    timestamp,
)
from presence.selectors import presence_for_watcher, presence_for_watcher_many


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
                _(
                    "DELETE revokes the bearer token of the request; this request has none "
                    "(sign out of a browser session at /logout/)."
                ),
                code="no_token",
            )
        services.token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """Return the signed-in person; PATCH sets their `time_zone` (contact cards show it)."""

    @extend_schema(responses=PersonSerializer)
    def get(self, request):
        return Response(PersonSerializer(request.user).data)

    @extend_schema(
        request=inline_serializer(
            "MeChange", {"time_zone": serializers.CharField(max_length=64, allow_blank=True)}
        ),
        responses=PersonSerializer,
    )
    def patch(self, request):
        data = _text_fields(request_object(request, fields={"time_zone"}))
        services.person_preferences_set(person=request.user, time_zone=data.get("time_zone"))
        return Response(PersonSerializer(request.user).data)


# Multipart boundaries and part headers around the photo.
MULTIPART_OVERHEAD = 64 * 1024


class MePhotoApi(APIView):
    """PUT my photo (multipart field `file`: JPEG, PNG or WebP, at most PARLEY_PHOTO_MAX_BYTES)
    -> 200 with my presence (its `photo` is the new URL); DELETE removes it -> 204."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": OpenApiTypes.OBJECT}, responses={200: OpenApiTypes.OBJECT}
    )
    def put(self, request):
        limit = settings.PARLEY_PHOTO_MAX_BYTES
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
            raise InvalidInput(
                _("The upload is %(declared)s bytes; photos are limited to %(limit)s bytes.")
                % {"declared": declared, "limit": limit},
                code="photo_too_large",
            )
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(
                _("Send the photo as the multipart field 'file'."), code="file_missing"
            )
        if upload.size > limit:
            raise InvalidInput(
                _("The photo is %(size)s bytes; the limit is %(limit)s bytes.")
                % {"size": upload.size, "limit": limit},
                code="photo_too_large",
            )
        person = services.person_photo_set(person=request.user, content=upload.read())
        return Response(presence_for_watcher(person=person, watcher=person))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        services.person_photo_remove(person=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


PHOTO_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class UserPhotoApi(APIView):
    """A person's photo, if their privacy projection shows it to me (404 otherwise, the same
    as for a person without a photo)."""

    @extend_schema(responses={200: OpenApiTypes.BINARY})
    def get(self, request, username: str):
        person = selectors.person_get_active(username=username)
        projection = presence_for_watcher(person=person, watcher=request.user) if person else {}
        if not projection.get("photo") or not default_storage.exists(person.photo.name):
            raise NotFound(
                _("%(username)s has no photo you may see.") % {"username": username},
                code="photo_not_found",
            )
        extension = person.photo.name.rsplit(".", 1)[-1].lower()
        response = FileResponse(
            default_storage.open(person.photo.name, "rb"),
            content_type=PHOTO_TYPES.get(extension, "image/jpeg"),
        )
        # The URL changes with the photo (?v=): private caches may keep it.
        response["Cache-Control"] = "private, max-age=86400"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


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
            raise InvalidInput(_('Send an object, e.g. {"conversation_history": true}.'))
        sync = services.mailbox_sync_update(person=request.user, choices=dict(request.data))
        return Response(mailbox_sync_to_dict(sync=sync))


def _text_fields(data: dict) -> dict:
    """Refuse a field that is not text: null is not "leave it as it is" (leave it out)."""
    for field, value in data.items():
        if not isinstance(value, str):
            raise InvalidInput(_("%(field)s must be text.") % {"field": field})
    return data


class PreferencesApi(APIView):
    """The signed-in person's language and time zone: what they chose, and what applies."""

    request_schemas = {
        "PATCH": {
            "type": "object",
            "properties": {
                "language": {"type": "string", "enum": ["", "en", "ko", "zh-hant"]},
                "time_zone": {"type": "string", "maxLength": 64},
            },
            "additionalProperties": False,
        }
    }

    def _answer(self, request) -> Response:
        person = request.user
        return Response(
            {
                "language": person.language,
                "time_zone": person.time_zone,
                "effective_language": language_choose(
                    person=person, accept_language=request.META.get("HTTP_ACCEPT_LANGUAGE", "")
                ),
                "effective_time_zone": time_zone_choose(person=person),
                "languages": [{"code": c, "name": n} for c, n in settings.LANGUAGES],
            }
        )

    @extend_schema(responses=PreferencesSerializer)
    def get(self, request):
        return self._answer(request)

    @extend_schema(responses=PreferencesSerializer)
    def patch(self, request):
        data = _text_fields(request_object(request, fields={"language", "time_zone"}))
        services.person_preferences_set(
            person=request.user, language=data.get("language"), time_zone=data.get("time_zone")
        )
        # This answer is already in the new language.
        translation.activate(language_choose(person=request.user))
        return self._answer(request)


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
            raise InvalidInput(_("q is limited to 200 characters."))
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
