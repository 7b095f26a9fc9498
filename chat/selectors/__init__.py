"""Reads of conversations, rooms, walls and feeds, always from one person's point of view."""

from chat.selectors.conversations import (
    ACTIVE,
    active_participants,
    conversation_ids_for_person,
    conversation_list_for_person,
    conversation_members,
    message_get_visible,
    message_list_after,
    message_list_before,
    messages_by_ids,
    participant_person_ids,
    participation_active,
    participation_get,
    unwalled,
)
from chat.selectors.feeds import feed_get, feed_list_for_person, feed_matches_list
from chat.selectors.history import (
    MessageDocuments,
    history_query_parse,
    history_readable,
    history_search,
)
from chat.selectors.rooms import (
    category_get,
    invitation_list_for_person,
    room_get_visible,
    room_list_visible_to,
    room_members_list,
    room_queryset_visible_to,
)
from chat.selectors.walls import (
    category_can_create,
    category_is_walled,
    category_list_open_to,
    category_walled_ids,
    category_walled_person_ids,
)

__all__ = [
    "ACTIVE",
    "MessageDocuments",
    "active_participants",
    "category_can_create",
    "category_get",
    "category_is_walled",
    "category_list_open_to",
    "category_walled_ids",
    "category_walled_person_ids",
    "conversation_ids_for_person",
    "conversation_list_for_person",
    "conversation_members",
    "feed_get",
    "feed_list_for_person",
    "feed_matches_list",
    "history_query_parse",
    "history_readable",
    "history_search",
    "invitation_list_for_person",
    "message_get_visible",
    "message_list_after",
    "message_list_before",
    "messages_by_ids",
    "participant_person_ids",
    "participation_active",
    "participation_get",
    "room_get_visible",
    "room_list_visible_to",
    "room_members_list",
    "room_queryset_visible_to",
    "unwalled",
]
