"""HTTP edge of compliance search: search, one record, its context, index health.

Compliance group only (IsComplianceOfficer: 401 anonymous, 403 everyone else, administrators
included). Dates: directory/moments.py, the one rule (ISO 8601; `start` is inclusive, `end`
exclusive, and a bare `end` date includes that whole day).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving.access import IsComplianceOfficer
from archiving.events import MessageTexts, Names, archived_text_lookup, event_describe, event_line
from archiving.history_views import events_without_history_views, history_repeats_attach
from archiving.models import ArchiveEvent, ArchiveRecord
from archiving.naming import conversation_names
from archiving.search import services
from archiving.search.backend import backend_get
from archiving.search.selectors import (
    search_capture_lag,
    search_parked_count,
    search_parked_list,
)
from archiving.search.types import EVENT_ALIASES, KINDS, SearchHit
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.input_screening import request_object
from directory.models import Person
from directory.moments import moment_parse
from directory.serializers import timestamp


class StrictBooleanField(serializers.BooleanField):
    """true or false only: DRF's field also takes 0, 1, "yes", "on"... which the schema does
    not promise."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ArchiveSearchInputSerializer(serializers.Serializer):
    query = serializers.CharField(allow_blank=True, trim_whitespace=False, default="")
    participants = serializers.ListField(child=serializers.CharField(), default=list)
    senders = serializers.ListField(child=serializers.CharField(), default=list)
    conversations = serializers.ListField(child=serializers.IntegerField(min_value=1), default=list)
    holds = serializers.ListField(child=serializers.IntegerField(min_value=1), default=list)
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=KINDS), default=list)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=[*EVENT_ALIASES, *ArchiveEvent.values]), default=list
    )
    start = serializers.CharField(allow_null=True, allow_blank=True, default=None)
    end = serializers.CharField(allow_null=True, allow_blank=True, default=None)
    cursor = serializers.CharField(allow_null=True, allow_blank=True, default=None)
    page_size = serializers.IntegerField(min_value=1, max_value=services.MAX_PAGE_SIZE, default=50)
    facets = StrictBooleanField(default=True)
    include_history_views = StrictBooleanField(default=False)
    exact_total = StrictBooleanField(default=False)

    def validate_query(self, value: str) -> str:
        if not isinstance(self.initial_data.get("query", ""), str):
            raise serializers.ValidationError(_("must be text (the query language), not a number."))
        return value

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            # A misspelt filter ("participant") must not silently widen a search.
            raise serializers.ValidationError(
                _("unknown field %(unknown)s; the fields are %(fields)s.")
                % {"unknown": ", ".join(unknown), "fields": ", ".join(self.fields)}
            )
        return attrs


def _people(usernames: set[str]) -> dict[str, dict]:
    names = dict(
        Person.objects.filter(username__in=usernames).values_list("username", "display_name")
    )
    return {u: {"username": u, "display_name": names.get(u, u)} for u in usernames}


def _described(records, *, people: dict[str, dict]) -> dict[int, str]:
    """Return {record id: the record in words} (archiving/events.py, in chain order)."""
    names = Names({u: p["display_name"] for u, p in people.items()})
    texts = MessageTexts(archived_text_lookup)
    history_repeats_attach(records)
    out = {}
    for record in sorted(records, key=lambda r: (r.conversation_id, r.chain_index)):
        out[record.pk] = event_line(event_describe(record, name=names, texts=texts), name=names)
        texts.note(record)
    return out


def hit_to_dict(hit: SearchHit, *, people: dict[str, dict], naming: dict | None = None) -> dict:
    naming = naming or {}
    return {
        "record": hit.record_id,
        "conversation": hit.conversation_id,
        "conversation_name": naming.get("conversations", {}).get(hit.conversation_id, ""),
        "description": naming.get("records", {}).get(hit.record_id, ""),
        "conversation_kind": hit.conversation_kind,
        "event": hit.event,
        "chain_index": hit.chain_index,
        "sender": people.get(hit.sender) or {"username": hit.sender, "display_name": hit.sender},
        "body": hit.body,
        "created_at": timestamp(hit.occurred_at),
        "highlight": hit.highlight,
    }


def record_to_dict(
    record: ArchiveRecord, *, people: dict[str, dict], naming: dict | None = None
) -> dict:
    sender = record.actor_username
    naming = naming or {}
    return {
        "record": record.pk,
        "conversation": record.conversation_id,
        "conversation_name": naming.get("conversations", {}).get(record.conversation_id, ""),
        "description": naming.get("records", {}).get(record.pk, ""),
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


def _named(record: ArchiveRecord) -> set[str]:
    payload = record.payload or {}
    names = {record.actor_username, payload.get("person"), payload.get("sender")}
    return {n for n in names if isinstance(n, str) and n}


def _facet(name: str, facet, *, naming: dict) -> dict:
    entry = {"value": facet.value, "count": facet.count}
    if name == "conversations" and str(facet.value).isdigit():
        entry["label"] = naming["conversations"].get(int(facet.value), "")
    return entry


class ArchiveSearchApi(APIView):
    """Search the archive: query text plus filters, newest first, with a cursor and facets."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(
        operation_id="archive_search",
        request=ArchiveSearchInputSerializer,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request):
        serializer = ArchiveSearchInputSerializer(data=request_object(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        page = services.archive_search(
            officer=request.user,
            query=data["query"],
            participants=data["participants"],
            senders=data["senders"],
            conversations=data["conversations"],
            holds=data["holds"],
            kinds=data["kinds"],
            events=events_without_history_views(
                data["events"], include_history_views=data["include_history_views"]
            ),
            start=moment_parse(data["start"], field="start"),
            end=moment_parse(data["end"], field="end", is_end=True),
            cursor=data["cursor"] or None,
            page_size=data["page_size"],
            with_facets=data["facets"],
            exact_total=data["exact_total"],
        )
        result = page.result
        records = list(ArchiveRecord.objects.filter(pk__in=[hit.record_id for hit in result.hits]))
        people = _people(
            {hit.sender for hit in result.hits} | {u for r in records for u in _named(r)}
        )
        conversation_ids = {hit.conversation_id for hit in result.hits}
        conversation_ids |= {
            int(f.value) for f in result.facets.get("conversations", []) if str(f.value).isdigit()
        }
        naming = {
            "conversations": conversation_names(conversation_ids),
            "records": _described(records, people=people),
        }
        return Response(
            {
                "total": result.total,
                "total_is_exact": result.total_is_exact,
                "hits": [hit_to_dict(hit, people=people, naming=naming) for hit in result.hits],
                "next_cursor": page.next_cursor,
                "facets": {
                    name: [_facet(name, f, naming=naming) for f in counts]
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
        people = _people(_named(record))
        naming = {
            "conversations": conversation_names([record.conversation_id]),
            "records": _described([record], people=people),
        }
        return Response(record_to_dict(record, people=people, naming=naming))


def _count_param(request, name: str) -> int:
    raw = request.query_params.get(name, "")
    if raw == "":
        return 10
    if not raw.isdigit():
        raise InvalidInput(
            _("%(name)s must be a whole number between 0 and %(MAX_CONTEXT)s.")
            % {"name": name, "MAX_CONTEXT": services.MAX_CONTEXT}
        )
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
        if request.query_params.get("include_history_views", "") not in ("1", "true"):
            # Views of history say who read what, not what was said: shown when asked for.
            records = [
                r for r in records if r.event != ArchiveEvent.HISTORY_VIEWED or r.pk == record.pk
            ]
        people = _people({u for r in records for u in _named(r)})
        naming = {
            "conversations": conversation_names([record.conversation_id]),
            "records": _described(records, people=people),
        }
        return Response(
            {
                "record": record.pk,
                "conversation": record.conversation_id,
                "conversation_name": naming["conversations"][record.conversation_id],
                "records": [record_to_dict(r, people=people, naming=naming) for r in records],
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
