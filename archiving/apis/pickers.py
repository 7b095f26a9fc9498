"""Search-as-you-type for the console's forms: people and archived conversations by name.

Compliance group only. They answer names for ids the officer is about to pick (custodians,
participants, rooms), so a hold or a search names people and conversations, not numbers.
"""

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving.access import IsComplianceOfficer
from archiving.models import ArchiveChain, ArchiveEvent, ArchiveParticipant, ArchiveRecord
from archiving.naming import conversation_names
from directory.models import Person

LIMIT = 20


def _q(request) -> str:
    return (request.query_params.get("q") or "").strip()[:100]


class PersonPickApi(APIView):
    """People whose username, name or e-mail contains q (former employees included)."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(
        operation_id="archive_people_pick",
        parameters=[OpenApiParameter("q", str)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        text = _q(request)
        people = Person.objects.order_by("display_name", "username")
        if text:
            people = people.filter(
                Q(username__icontains=text)
                | Q(display_name__icontains=text)
                | Q(email__icontains=text)
            )
        return Response(
            {
                "results": [
                    {
                        "username": p.username,
                        "display_name": p.display_name or p.username,
                        "email": p.email,
                        "is_active": p.is_active,
                    }
                    for p in people[:LIMIT]
                ]
            }
        )


class ConversationPickApi(APIView):
    """Archived conversations whose room name, or one of whose people, matches q."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(
        operation_id="archive_conversations_pick",
        parameters=[OpenApiParameter("q", str)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        text = _q(request)
        if text:
            titled = ArchiveRecord.objects.filter(
                Q(event=ArchiveEvent.CONVERSATION_CREATED, payload__title__icontains=text)
                | Q(event=ArchiveEvent.ROOM_UPDATED, payload__name__icontains=text)
            ).values_list("conversation_id", flat=True)
            peopled = ArchiveParticipant.objects.filter(
                Q(person__username__icontains=text) | Q(person__display_name__icontains=text)
            ).values_list("conversation_id", flat=True)
            ids = sorted(set(titled[:200]) | set(peopled[:200]), reverse=True)[:LIMIT]
        else:
            ids = list(
                ArchiveChain.objects.order_by("-updated_at").values_list(
                    "conversation_id", flat=True
                )[:LIMIT]
            )
        names = conversation_names(ids)
        kinds = dict(
            ArchiveRecord.objects.filter(conversation_id__in=ids, chain_index=0).values_list(
                "conversation_id", "conversation_kind"
            )
        )
        return Response(
            {
                "results": sorted(
                    ({"id": c, "name": names[c], "kind": kinds.get(c, "")} for c in ids),
                    key=lambda item: item["name"].lower(),
                )
            }
        )
