"""Hashtags and topic feeds.

Design. Matching runs inside message_post's transaction, so a match exists exactly when the
message does, and costs one indexed query when no feed could match: the message's hashtags,
words, room and author are looked up in FeedTerm (kind, value), which yields the few candidate
feeds; only those are evaluated in Python against their full filter and their owners' right
to read the message (membership, history floor, ethical walls). Owners' sockets get a
`feed.match` frame after commit. Reads of a feed's matches apply the same rights again, so a
match made before a wall went up stays hidden.
"""

import re

from django.db import transaction
from django.db.models import F, Q

from chat import realtime
from chat.models import Feed, FeedMatch, FeedTerm, Message, MessageHashtag, Participant
from chat.selectors import ACTIVE, category_walled_person_ids, participation_active
from directory.exceptions import InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person

HASHTAG = re.compile(r"(?<![\w#])#(\w{1,100})", re.UNICODE)
WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 50
MAX_TAGS_PER_MESSAGE = 50


def hashtags_extract(body: str) -> list[str]:
    """Return the message's #hashtags, lower case, without the #, first occurrence first."""
    return list(dict.fromkeys(t.lower() for t in HASHTAG.findall(body)))[:MAX_TAGS_PER_MESSAGE]


def _words(body: str) -> set[str]:
    return {w.lower() for w in WORD.findall(body) if len(w) <= 100}


def _feed_matches(feed: Feed, *, message: Message, tags: set[str], words: set[str]) -> bool:
    return (
        (not feed.words or any(w in words for w in feed.words))
        and (not feed.hashtags or any(t in tags for t in feed.hashtags))
        and (not feed.room_ids or message.conversation_id in feed.room_ids)
        and (not feed.author_ids or message.sender_id in feed.author_ids)
    )


def _terms_condition(*, message: Message, tags: list[str], words: set[str]) -> Q:
    condition = Q(kind=FeedTerm.Kind.ROOM, value=str(message.conversation_id)) | Q(
        kind=FeedTerm.Kind.AUTHOR, value=str(message.sender_id)
    )
    if tags:
        condition |= Q(kind=FeedTerm.Kind.HASHTAG, value__in=tags)
    if words:
        condition |= Q(kind=FeedTerm.Kind.WORD, value__in=words)
    return condition


def message_index(*, message: Message) -> list[FeedMatch]:
    """Store a new message's hashtags and its matches in topic feeds (in the caller's
    transaction); notify the feeds' owners after commit."""
    tags = hashtags_extract(message.body)
    if tags:
        MessageHashtag.objects.bulk_create(
            MessageHashtag(message=message, conversation_id=message.conversation_id, tag=t)
            for t in tags
        )
    words = _words(message.body)
    candidate_ids = set(
        FeedTerm.objects.filter(
            _terms_condition(message=message, tags=tags, words=words)
        ).values_list("feed_id", flat=True)
    )
    return _feeds_match(message=message, candidate_ids=candidate_ids, tags=tags, words=words)


def message_index_many(*, messages: list[Message]) -> None:
    """message_index for a batch of new messages: the hashtags in one insert and the feed
    candidates of all in one query; only messages with candidates are matched one by one."""
    tags = {m.pk: hashtags_extract(m.body) for m in messages}
    words = {m.pk: _words(m.body) for m in messages}
    hashtags = [
        MessageHashtag(message=m, conversation_id=m.conversation_id, tag=t)
        for m in messages
        for t in tags[m.pk]
    ]
    if hashtags:
        MessageHashtag.objects.bulk_create(hashtags)
    # One condition per kind over the whole batch (a superset of each message's terms;
    # the exact terms of each message are picked out below).
    condition = Q(kind=FeedTerm.Kind.ROOM, value__in={str(m.conversation_id) for m in messages})
    condition |= Q(kind=FeedTerm.Kind.AUTHOR, value__in={str(m.sender_id) for m in messages})
    all_tags = set().union(*tags.values())
    if all_tags:
        condition |= Q(kind=FeedTerm.Kind.HASHTAG, value__in=all_tags)
    all_words = set().union(*words.values())
    if all_words:
        condition |= Q(kind=FeedTerm.Kind.WORD, value__in=all_words)
    terms: dict[tuple[str, str], set[int]] = {}
    for kind, value, feed_id in FeedTerm.objects.filter(condition).values_list(
        "kind", "value", "feed_id"
    ):
        terms.setdefault((kind, value), set()).add(feed_id)
    if not terms:
        return
    for m in messages:
        keys = [
            (FeedTerm.Kind.ROOM, str(m.conversation_id)),
            (FeedTerm.Kind.AUTHOR, str(m.sender_id)),
            *((FeedTerm.Kind.HASHTAG, t) for t in tags[m.pk]),
            *((FeedTerm.Kind.WORD, w) for w in words[m.pk]),
        ]
        candidate_ids = set().union(*(terms.get(key, ()) for key in keys))
        _feeds_match(message=m, candidate_ids=candidate_ids, tags=tags[m.pk], words=words[m.pk])


def _feeds_match(
    *, message: Message, candidate_ids: set[int], tags: list[str], words: set[str]
) -> list[FeedMatch]:
    if not candidate_ids:
        return []
    feeds = [
        feed
        for feed in Feed.objects.filter(pk__in=candidate_ids).exclude(owner_id=message.sender_id)
        if _feed_matches(feed, message=message, tags=set(tags), words=words)
    ]
    if not feeds:
        return []
    owners = {feed.owner_id for feed in feeds}
    readers = set(
        Participant.objects.filter(
            ACTIVE,
            conversation_id=message.conversation_id,
            person_id__in=owners,
            visible_after_seq__lt=message.seq,
        ).values_list("person_id", flat=True)
    )
    if readers:
        category_id = message.conversation.category_id
        readers -= category_walled_person_ids(category_id=category_id, person_ids=readers)
    feeds = [feed for feed in feeds if feed.owner_id in readers]
    if not feeds:
        return []
    matches = FeedMatch.objects.bulk_create(FeedMatch(feed=feed, message=message) for feed in feeds)
    Feed.objects.filter(pk__in=[f.pk for f in feeds]).update(unread_count=F("unread_count") + 1)
    notices = [(feed.owner_id, feed.pk, feed.name, feed.unread_count + 1) for feed in feeds]
    transaction.on_commit(
        lambda: realtime.feed_match(message=message, notices=notices), robust=True
    )
    return matches


def hashtags_reindex(*, message: Message) -> None:
    """Replace an edited or deleted message's hashtags."""
    MessageHashtag.objects.filter(message=message).delete()
    if not message.is_deleted:
        MessageHashtag.objects.bulk_create(
            MessageHashtag(message=message, conversation_id=message.conversation_id, tag=t)
            for t in hashtags_extract(message.body)
        )


def _string_list(value, *, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(_("%(field)s must be a list of strings.") % {"field": field})
    if len(value) > MAX_TERMS:
        raise InvalidInput(
            _("%(field)s is limited to %(MAX_TERMS)s entries.")
            % {"field": field, "MAX_TERMS": MAX_TERMS}
        )
    return value


@transaction.atomic
def feed_create(
    *,
    owner: Person,
    name: str,
    words: list[str] | None = None,
    hashtags: list[str] | None = None,
    rooms: list[int] | None = None,
    authors: list[str] | None = None,
) -> Feed:
    """Store a topic feed and its index terms."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidInput(_("A feed needs a name of at most 100 characters."))
    words = sorted(
        {w.lower() for raw in _string_list(words, field="words") for w in WORD.findall(raw)}
    )
    tags = sorted(
        {t.lower().lstrip("#") for t in _string_list(hashtags, field="hashtags") if t.strip("# ")}
    )
    if any(not re.fullmatch(r"\w{1,100}", t) for t in tags):
        raise InvalidInput(_("hashtags are words (letters, digits, _), with or without #."))
    room_ids = rooms or []
    if not isinstance(room_ids, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) for r in room_ids
    ):
        raise InvalidInput(_("rooms must be a list of room ids."))
    for room_id in room_ids:
        if not participation_active(person_id=owner.pk, conversation_id=room_id).exists():
            raise NotFound(
                _("Room %(room_id)s does not exist or you are not in it.") % {"room_id": room_id},
                code="room_not_found",
            )
    usernames = _string_list(authors, field="authors")
    people = dict(Person.objects.filter(username__in=usernames).values_list("username", "pk"))
    missing = [u for u in usernames if u not in people]
    if missing:
        raise NotFound(
            _("No person named %(missing)s.") % {"missing": ", ".join(missing)},
            code="person_not_found",
        )
    if not (words or tags or room_ids or people):
        raise InvalidInput(_("A feed needs at least one word, hashtag, room or author."))
    feed = Feed.objects.create(
        owner=owner,
        name=name.strip(),
        words=words,
        hashtags=tags,
        room_ids=sorted(set(room_ids)),
        author_ids=sorted(people.values()),
    )
    terms = (
        [(FeedTerm.Kind.WORD, w) for w in words]
        + [(FeedTerm.Kind.HASHTAG, t) for t in tags]
        + [(FeedTerm.Kind.ROOM, str(r)) for r in feed.room_ids]
        + [(FeedTerm.Kind.AUTHOR, str(a)) for a in feed.author_ids]
    )
    FeedTerm.objects.bulk_create(FeedTerm(feed=feed, kind=k, value=v) for k, v in terms)
    return feed


def feed_mark_read(*, owner: Person, feed_id: int) -> Feed:
    """Set a feed's unread count to zero."""
    feed = Feed.objects.filter(pk=feed_id, owner=owner).first()
    if feed is None:
        raise NotFound(
            _("Feed %(feed_id)s does not exist.") % {"feed_id": feed_id}, code="feed_not_found"
        )
    Feed.objects.filter(pk=feed.pk).update(unread_count=0)
    feed.unread_count = 0
    return feed


def feed_delete(*, owner: Person, feed_id: int) -> None:
    """Delete one's own feed and its matches."""
    deleted, _ignored = Feed.objects.filter(pk=feed_id, owner=owner).delete()
    if not deleted:
        raise NotFound(
            _("Feed %(feed_id)s does not exist.") % {"feed_id": feed_id}, code="feed_not_found"
        )
