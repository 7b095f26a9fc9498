"""History views: Lync's BACKCHAT, archived once per page of older history a person loads
(the same page again within the window is counted on that record: archiving/history_views.py)."""

from django.db import transaction
from django.utils import timezone

from archiving.history_views import history_view_repeat_count
from archiving.models import ArchiveEvent
from chat.models import Conversation, Message, Participant
from chat.services.messages import _capture
from directory.models import Person


def history_view_record(
    *, reader: Person, participation: Participant, messages: list[Message], is_backward: bool
) -> bool:
    """Archive one history.viewed event when a page shows older history; return whether.

    A page is older history when it was asked for backwards (before_seq), or when it holds
    messages posted before the reader's current membership began (a newcomer reading a room's
    backlog).
    """
    if not messages:
        return False
    if not is_backward and messages[0].created_at >= participation.joined_at:
        return False
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(
            pk=participation.conversation_id
        )
        if history_view_repeat_count(
            conversation_id=conversation.pk,
            actor_username=reader.username,
            from_seq=messages[0].seq,
            to_seq=messages[-1].seq,
            at=now,
        ):
            return True  # the same view, moments ago: counted on its record, not archived again
        _capture(
            conversation,
            event=ArchiveEvent.HISTORY_VIEWED,
            actor=reader,
            occurred_at=now,
            payload={
                "from_seq": messages[0].seq,
                "to_seq": messages[-1].seq,
                "count": len(messages),
            },
        )
    return True
