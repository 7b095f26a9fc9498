"""HTTP edge for sign-in tokens and the directory."""

from django.conf import settings
from django.utils import translation
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from directory import selectors, services
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.locale import language_choose, time_zone_choose
from directory.models import ApiToken, Person
from directory.serializers import (
    PersonSerializer,
    PreferencesSerializer,
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
                _(
                    "DELETE revokes the bearer token of the request; this request has none "
                    "(sign out of a browser session at /logout/)."
                ),
                code="no_token",
            )
        services.token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """Return the signed-in person."""

    @extend_schema(responses=PersonSerializer)
    def get(self, request):
        return Response(PersonSerializer(request.user).data)


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
        if not isinstance(request.data, dict):
            raise InvalidInput(_("The body must be a JSON object."))
        unknown = sorted(set(request.data) - {"language", "time_zone"})
        if unknown:
            raise InvalidInput(
                _("Unknown field(s): %(fields)s; send language and/or time_zone.")
                % {"fields": ", ".join(unknown)}
            )
        services.person_preferences_set(
            person=request.user,
            language=request.data.get("language"),
            time_zone=request.data.get("time_zone"),
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
