"""HTTP edge of compliance search: search, one record, its context, index health.

Compliance group only (IsComplianceOfficer: 401 anonymous, 403 everyone else, administrators
included). Dates: ISO 8601 datetimes (a time without zone is UTC) or dates; `start` is
inclusive, `end` exclusive, and a date-only `end` includes that whole day.
"""

from datetime import UTC, datetime, time, timedelta

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving.access import IsComplianceOfficer
from archiving.models import ArchiveRecord
from archiving.search import services
from archiving.search.backend import backend_get
from archiving.search.selectors import (
    search_capture_lag,
    search_parked_count,
    search_parked_list,
)
from archiving.search.types import KINDS, SearchHit
from directory.exceptions import InvalidInput
from directory.models import Person
from directory.serializers import timestamp


def _moment(raw: str | None, *, field: str, is_end: bool) -> datetime | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise InvalidInput(f"{field} must be an ISO 8601 date or datetime text.")
    try:
        # Date first: parse_datetime also reads a bare date (as midnight), which would make an
        # end date leave out its own day.
        day = parse_date(raw)
        moment = None if day is not None else parse_datetime(raw)
    except ValueError:
        moment, day = None, None
    if moment is None and day is None:
        raise InvalidInput(
            f'{field}: "{raw}" is not a date; use ISO 8601, e.g. 2026-03-01 or '
            "2026-03-01T09:30:00Z."
        )
    if day is not None:
        moment = datetime.combine(day + timedelta(days=1 if is_end else 0), time(), tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class ArchiveSearchInputSerializer(serializers.Serializer):
    query = serializers.CharField(allow_blank=True, trim_whitespace=False, default="")
    participants = serializers.ListField(child=serializers.CharField(), default=list)
    senders = serializers.ListField(child=serializers.CharField(), default=list)
    conversations = serializers.ListField(child=serializers.IntegerField(min_value=1), default=list)
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=KINDS), default=list)
    events = serializers.ListField(child=serializers.CharField(), default=list)
    start = serializers.CharField(allow_null=True, allow_blank=True, default=None)
    end = serializers.CharField(allow_null=True, allow_blank=True, default=None)
    cursor = serializers.CharField(allow_null=True, allow_blank=True, default=None)
    page_size = serializers.IntegerField(min_value=1, max_value=services.MAX_PAGE_SIZE, default=50)
    facets = serializers.BooleanField(default=True)
    exact_total = serializers.BooleanField(default=False)

    def validate_query(self, value: str) -> str:
        if not isinstance(self.initial_data.get("query", ""), str):
            raise serializers.ValidationError("must be text (the query language), not a number.")
        return value

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            # A misspelt filter ("participant") must not silently widen a search.
            raise serializers.ValidationError(
                f"unknown field {', '.join(unknown)}; the fields are {', '.join(self.fields)}."
            )
        return attrs


def _people(usernames: set[str]) -> dict[str, dict]:
    names = dict(
        Person.objects.filter(username__in=usernames).values_list("username", "display_name")
    )
    return {u: {"username": u, "display_name": names.get(u, u)} for u in usernames}


def hit_to_dict(hit: SearchHit, *, people: dict[str, dict]) -> dict:
    return {
        "record": hit.record_id,
        "conversation": hit.conversation_id,
        "conversation_kind": hit.conversation_kind,
        "event": hit.event,
        "chain_index": hit.chain_index,
        "sender": people.get(hit.sender) or {"username": hit.sender, "display_name": hit.sender},
        "body": hit.body,
        "created_at": timestamp(hit.occurred_at),
        "highlight": hit.highlight,
    }


def record_to_dict(record: ArchiveRecord, *, people: dict[str, dict]) -> dict:
    sender = record.actor_username
    return {
        "record": record.pk,
        "conversation": record.conversation_id,
        "conversation_kind": record.conversation_kind,
        "is_external": record.is_external,
        "chain_index": record.chain_index,
        "event": record.event,
        "message": record.message_id,
        "message_seq": record.message_seq,
        "sender": people.get(sender) or {"username": sender, "display_name": sender},
        "body": record.body,
        "payload": record.payload,
        "created_at": timestamp(record.occurred_at),
        "record_hash": record.record_hash,
    }


class ArchiveSearchApi(APIView):
    """Search the archive: query text plus filters, newest first, with a cursor and facets."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(
        operation_id="archive_search",
        request=ArchiveSearchInputSerializer,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise InvalidInput("The body must be a JSON object.")
        serializer = ArchiveSearchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        page = services.archive_search(
            officer=request.user,
            query=data["query"],
            participants=data["participants"],
            senders=data["senders"],
            conversations=data["conversations"],
            kinds=data["kinds"],
            events=data["events"],
            start=_moment(data["start"], field="start", is_end=False),
            end=_moment(data["end"], field="end", is_end=True),
            cursor=data["cursor"] or None,
            page_size=data["page_size"],
            with_facets=data["facets"],
            exact_total=data["exact_total"],
        )
        result = page.result
        people = _people({hit.sender for hit in result.hits})
        return Response(
            {
                "total": result.total,
                "total_is_exact": result.total_is_exact,
                "hits": [hit_to_dict(hit, people=people) for hit in result.hits],
                "next_cursor": page.next_cursor,
                "facets": {
                    name: [{"value": f.value, "count": f.count} for f in counts]
                    for name, counts in result.facets.items()
                },
            }
        )


class ArchiveRecordApi(APIView):
    """One archive record (audited)."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_record", responses=OpenApiTypes.OBJECT)
    def get(self, request, record_id: int):
        record = services.archive_record_view(officer=request.user, record_id=record_id)
        return Response(record_to_dict(record, people=_people({record.actor_username})))


def _count_param(request, name: str) -> int:
    raw = request.query_params.get(name, "")
    if raw == "":
        return 10
    if not raw.isdigit():
        raise InvalidInput(f"{name} must be a whole number between 0 and {services.MAX_CONTEXT}.")
    return int(raw)


class ArchiveRecordContextApi(APIView):
    """The records around a record in its conversation, in chain order (audited)."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_record_context", responses=OpenApiTypes.OBJECT)
    def get(self, request, record_id: int):
        record, records = services.archive_record_context(
            officer=request.user,
            record_id=record_id,
            before=_count_param(request, "before"),
            after=_count_param(request, "after"),
        )
        people = _people({r.actor_username for r in records})
        return Response(
            {
                "record": record.pk,
                "conversation": record.conversation_id,
                "records": [record_to_dict(r, people=people) for r in records],
            }
        )


class ArchiveHealthApi(APIView):
    """Search index health: backend, records waiting for the index, capture lag."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_health", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        lag = search_capture_lag()
        return Response(
            {
                "backend": backend_get().name,
                "pending": lag.pending,
                "oldest_pending_at": timestamp(lag.oldest_at),
                "capture_lag_seconds": round(lag.seconds, 3),
                "parked": search_parked_count(),
                "parked_recent": [
                    {
                        "record": row.record_id,
                        "operation": row.operation,
                        "parked_at": timestamp(row.parked_at),
                        "reason": row.reason,
                    }
                    for row in search_parked_list()
                ],
            }
        )
