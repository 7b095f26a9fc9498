"""Reads of topic feeds; a feed's matches are filtered by the owner's rights at read time."""

from django.db.models import Exists, F, OuterRef, QuerySet

from chat.models import Feed, FeedMatch, Message, Participant
from chat.selectors.conversations import ACTIVE, unwalled
from directory.exceptions import NotFound
from directory.exceptions import sentence_gettext as _


def feed_list_for_person(*, person_id: int) -> QuerySet[Feed]:
    """Return the person's feeds, oldest first."""
    return Feed.objects.filter(owner_id=person_id).order_by("pk")


def feed_get(*, person_id: int, feed_id: int) -> Feed:
    """Return one of the person's feeds, or NotFound."""
    feed = Feed.objects.filter(owner_id=person_id, pk=feed_id).first()
    if feed is None:
        raise NotFound(
            _("Feed %(feed_id)s does not exist.") % {"feed_id": feed_id}, code="feed_not_found"
        )
    return feed


def feed_matches_list(*, feed: Feed, limit: int, before_id: int | None) -> list[Message]:
    """Return the feed's matched messages its owner may still read, newest first."""
    readable = Participant.objects.filter(
        ACTIVE,
        person_id=feed.owner_id,
        conversation_id=OuterRef("message__conversation_id"),
        visible_after_seq__lt=OuterRef("message__seq"),
    )
    matches = FeedMatch.objects.filter(
        Exists(readable),
        unwalled(feed.owner_id, prefix="message__conversation__"),
        feed=feed,
        message__deleted_at__isnull=True,
    )
    if before_id is not None:
        matches = matches.filter(message_id__lt=before_id)
    ids = list(
        matches.order_by(F("message_id").desc()).values_list("message_id", flat=True)[:limit]
    )
    found = Message.objects.select_related(
        "sender", "file", "conversation", "reply_to__sender"
    ).in_bulk(ids)
    return [found[i] for i in ids if i in found]
