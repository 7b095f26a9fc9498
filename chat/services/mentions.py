"""@mentions: who a message names, among the people who can read its conversation.

A mention is resolved once, when the message is posted, in both write paths (message_post and
message_post_batch) with one query for all the posts at hand: the active participants of their
conversations whose username (case-insensitive) a body names; a room in a category also drops
the people its wall keeps out (one more query per such room, rare). Nobody outside the
conversation is ever named in `mentions`, so a mention cannot tell an outsider anything nor
tell the sender who exists. The message keeps the usernames (Message.mentions, written in its
INSERT); MessageMention rows (one bulk insert) make the unread mention count a range read.
"""

import re

from django.db.models.functions import Lower

from chat.models import Conversation, Message, MessageMention, Participant
from chat.selectors import ACTIVE, category_walled_person_ids

# "@" not preceded by a word character or another "@" (an e-mail address is not a mention),
# then a username of word characters, dots, plus and minus signs, ending in a word character.
MENTION = re.compile(r"(?<![\w@])@(\w(?:[\w.+-]*\w)?)")
# Names looked up per message at most: a body naming more is not refused, the rest is text.
MENTIONS_MAX = 50

Mentioned = list[tuple[int, str]]  # (person id, username), in the order the body names them


def mention_names(body: str) -> list[str]:
    """Return the lower-cased names a body @mentions, first appearance first."""
    if "@" not in body:
        return []
    return list(dict.fromkeys(m.lower() for m in MENTION.findall(body)))[:MENTIONS_MAX]


def mentions_resolve(*, posts: list[tuple[Conversation, str]]) -> list[Mentioned]:
    """Return, for each (conversation, body), the people it mentions who can read that
    conversation; no query when no body holds a mention."""
    names = [mention_names(body) for _, body in posts]
    wanted = {name for found in names for name in found}
    if not wanted:
        return [[] for _ in posts]
    conversation_ids = {c.pk for (c, _), found in zip(posts, names, strict=True) if found}
    readers: dict[tuple[int, str], tuple[int, str]] = {}
    for conversation_id, person_id, username in (
        Participant.objects.filter(ACTIVE, conversation_id__in=conversation_ids)
        .annotate(name=Lower("person__username"))
        .filter(name__in=wanted)
        .values_list("conversation_id", "person_id", "person__username")
    ):
        readers[(conversation_id, username.lower())] = (person_id, username)
    walled: dict[int, set[int]] = {}
    for (conversation, _), found in zip(posts, names, strict=True):
        if found and conversation.category_id is not None and conversation.pk not in walled:
            in_room = [p for (cid, _), (p, _) in readers.items() if cid == conversation.pk]
            walled[conversation.pk] = category_walled_person_ids(
                category_id=conversation.category_id, person_ids=in_room
            )
    result = []
    for (conversation, _), found in zip(posts, names, strict=True):
        out = walled.get(conversation.pk, set())
        people = [readers.get((conversation.pk, name)) for name in found]
        result.append([p for p in people if p is not None and p[0] not in out])
    return result


def mention_rows_store(*, mentioned: list[tuple[Message, Mentioned]]) -> None:
    """Insert the MessageMention rows of stored messages, in one statement (none if empty)."""
    rows = [
        MessageMention(
            message=message, conversation_id=message.conversation_id, person_id=pid, seq=message.seq
        )
        for message, people in mentioned
        for pid, _ in people
    ]
    if rows:
        MessageMention.objects.bulk_create(rows)
