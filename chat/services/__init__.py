"""The only code that changes conversations, rooms, categories, files and feeds.

A package of modules by business area; everything is re-exported here so callers keep
writing `from chat import services; services.message_post(...)`.
"""

from chat.services.categories import (
    category_create,
    category_fields,
    category_rooms_recheck,
    category_update,
    category_walls_sweep,
)
from chat.services.delivery import (
    PendingDelivery,
    message_delivery_attempt,
    message_delivery_expire,
    message_delivery_fail,
    message_delivery_mark_sent,
    outbound_delivery_enqueue,
)
from chat.services.feeds import feed_create, feed_delete, feed_mark_read, hashtags_extract
from chat.services.files import (
    PayloadTooLarge,
    file_download,
    file_name_sanitise,
    file_post,
    file_size_limit,
)
from chat.services.history import history_view_record
from chat.services.messages import (
    CLIENT_ID_MAX,
    conversation_create,
    conversation_direct_get_or_create,
    conversation_mark_read,
    message_delete,
    message_edit,
    message_post,
    participant_add,
    participant_leave,
    posting_check,
)
from chat.services.posting import message_post_batch
from chat.services.reactions import emoji_validate, reaction_add, reaction_remove
from chat.services.rooms import (
    invitation_answer,
    invitation_create,
    room_create,
    room_join,
    room_leave,
    room_member_add,
    room_member_remove,
    room_member_role_change,
    room_update,
)

__all__ = [
    "CLIENT_ID_MAX",
    "PayloadTooLarge",
    "PendingDelivery",
    "category_create",
    "category_fields",
    "category_rooms_recheck",
    "category_update",
    "category_walls_sweep",
    "conversation_create",
    "conversation_direct_get_or_create",
    "conversation_mark_read",
    "emoji_validate",
    "feed_create",
    "feed_delete",
    "feed_mark_read",
    "file_download",
    "file_name_sanitise",
    "file_post",
    "file_size_limit",
    "hashtags_extract",
    "history_view_record",
    "invitation_answer",
    "invitation_create",
    "message_delete",
    "message_delivery_attempt",
    "message_delivery_expire",
    "message_delivery_fail",
    "message_delivery_mark_sent",
    "message_edit",
    "message_post",
    "message_post_batch",
    "outbound_delivery_enqueue",
    "participant_add",
    "participant_leave",
    "posting_check",
    "reaction_add",
    "reaction_remove",
    "room_create",
    "room_join",
    "room_leave",
    "room_member_add",
    "room_member_remove",
    "room_member_role_change",
    "room_update",
]
