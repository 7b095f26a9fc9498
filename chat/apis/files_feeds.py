"""HTTP edge for files posted into conversations and for topic feeds."""

from django.core.files.storage import default_storage
from django.core.validators import RegexValidator
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import selectors, services
from chat.apis.conversations import POSITIVE, _int_param
from chat.serializers import StrictCharField, message_to_dict
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file


class FileUploadApi(APIView):
    """Post a file (multipart field `file`) into a conversation or room: 201 with the message
    that refers to it (its `file` holds the metadata)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": OpenApiTypes.OBJECT}, responses={201: OpenApiTypes.OBJECT}
    )
    def post(self, request, conversation_id: int):
        limit = services.file_size_limit()
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
            # Refused before the body is read and spooled to disk.
            raise services.PayloadTooLarge(
                _("The upload is %(declared)s bytes; files are limited to %(limit)s bytes.")
                % {"declared": declared, "limit": limit},
                code="file_too_large",
            )
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(
                _("Send the file as the multipart field 'file'."), code="file_missing"
            )
        if upload.size > limit:
            # Refused before reading the whole upload into memory.
            raise services.PayloadTooLarge(
                _("The file is %(size)s bytes; the limit is %(limit)s bytes.")
                % {"size": upload.size, "limit": limit},
                code="file_too_large",
            )
        message = services.file_post(
            uploader=request.user,
            conversation_id=conversation_id,
            name=upload.name or "",
            content_type=upload.content_type or "",
            data=upload.read(),
        )
        return Response(message_to_dict(message), status=status.HTTP_201_CREATED)


class FileDownloadApi(APIView):
    """Download a file whose message I may read (archived as file.downloaded)."""

    @extend_schema(responses={200: OpenApiTypes.BINARY})
    def get(self, request, file_id: int):
        file = services.file_download(person=request.user, file_id=file_id)
        response = FileResponse(
            default_storage.open(file.blob.name, "rb"),
            as_attachment=True,
            filename=file.name,
            content_type=file.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class FeedInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    words = serializers.ListField(
        child=StrictCharField(max_length=100), required=False, default=list
    )
    hashtags = serializers.ListField(
        # What feed_create accepts: a word of letters, digits and _, with or without #.
        child=StrictCharField(
            max_length=101,
            validators=[RegexValidator(r"^#?\w{1,100}$", "a word, with or without #")],
        ),
        required=False,
        default=list,
    )
    rooms = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
    )
    authors = serializers.ListField(
        child=StrictCharField(max_length=150), required=False, default=list
    )


def feed_to_dict(feed) -> dict:
    return {
        "id": feed.pk,
        "name": feed.name,
        "words": feed.words,
        "hashtags": feed.hashtags,
        "rooms": feed.room_ids,
        "authors": feed.author_ids,
        "unread": feed.unread_count,
    }


class FeedListCreateApi(APIView):
    """My topic feeds; create one (words, #hashtags, rooms, authors)."""

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="feeds_list")
    def get(self, request):
        feeds = selectors.feed_list_for_person(person_id=request.user.pk)
        return Response({"results": [feed_to_dict(f) for f in feeds]})

    @extend_schema(request=FeedInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = FeedInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feed = services.feed_create(owner=request.user, **data.validated_data)
        return Response(feed_to_dict(feed), status=status.HTTP_201_CREATED)


class FeedDetailApi(APIView):
    """One of my feeds; DELETE removes it."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, feed_id: int):
        return Response(
            feed_to_dict(selectors.feed_get(person_id=request.user.pk, feed_id=feed_id))
        )

    @extend_schema(responses={204: None})
    def delete(self, request, feed_id: int):
        services.feed_delete(owner=request.user, feed_id=feed_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FeedMatchListApi(APIView):
    """The messages that matched a feed and that I may still read, newest first."""

    @extend_schema(
        parameters=[OpenApiParameter("limit", POSITIVE), OpenApiParameter("before", POSITIVE)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, feed_id: int):
        feed = selectors.feed_get(person_id=request.user.pk, feed_id=feed_id)
        limit = min(_int_param(request, "limit", default=50, minimum=1), 200)
        before = _int_param(request, "before", default=None, minimum=1)
        messages = selectors.feed_matches_list(feed=feed, limit=limit + 1, before_id=before)
        page = messages[:limit]
        return Response(
            {
                "results": [
                    # Feeds read rooms whose history floors are not at hand: a quoted reply
                    # shows no text here (the conversation itself shows it).
                    {
                        **message_to_dict(m, visible_after_seq=m.seq),
                        "conversation_title": m.conversation.title,
                    }
                    for m in page
                ],
                "next_before": page[-1].pk if len(messages) > limit else None,
                "unread": feed.unread_count,
            }
        )


class FeedReadApi(APIView):
    """Mark a feed read (unread back to 0)."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, feed_id: int):
        return Response(feed_to_dict(services.feed_mark_read(owner=request.user, feed_id=feed_id)))
