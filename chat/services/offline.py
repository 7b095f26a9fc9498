"""A post refused by the offline IM switch (chat/selectors/offline.py decides when).

What is kept. The message is not stored as a message: the recipients must not find it when
they connect, which is the whole point of the switch. The attempt is archived, with its text,
as a `message.not_delivered` record on the conversation's chain (who sent what, to whom, and
that it was not delivered because they were offline), so a reviewer reads every word a person
tried to send. The sender is told, by an `error` frame / a 409 answer with the code
`recipient_offline` and the usernames in `offline`.

A refused post writes only in the archive, in the caller's transaction; the caller raises the
refusal after its atomic block, so the record commits while the post is refused.
"""

from django.utils import timezone
from django.utils.translation import ngettext

from archiving import services as archiving
from archiving.models import ArchiveEvent
from chat.models import Conversation
from chat.selectors import participant_person_ids
from chat.selectors.offline import offline_recipients
from directory.exceptions import Conflict
from directory.exceptions import sentence_gettext as _
from directory.models import Person


class RecipientOffline(Conflict):
    """Nobody the message is for is online, and their IM policy does not keep it for later."""

    code = "recipient_offline"

    def __init__(self, detail: str, *, offline: list[str]) -> None:
        super().__init__(detail)
        self.offline = offline

    @property
    def fields(self) -> dict:
        """Extra fields of the error answer (frame and REST alike)."""
        return {"offline": self.offline}


def offline_attempt_record(
    *, conversation: Conversation, sender: Person, body: str, client_id: str
) -> RecipientOffline:
    """Archive a post refused because its recipients are offline; return the refusal."""
    people = offline_recipients(conversation_id=conversation.pk, sender=sender)
    names = [p.name for p in people]
    archiving.capture(
        conversation_id=conversation.pk,
        conversation_kind=conversation.kind,
        is_external=conversation.is_external,
        participant_ids=participant_person_ids(conversation_id=conversation.pk),
        event=ArchiveEvent.MESSAGE_NOT_DELIVERED,
        actor=sender,
        occurred_at=timezone.now(),
        body=body,
        payload={"offline": names, "client_id": client_id},
    )
    detail = ngettext(
        "%(names)s is offline and does not receive messages while offline: your message was "
        "not delivered. Send it again when they are online.",
        "%(names)s are offline and do not receive messages while offline: your message was "
        "not delivered. Send it again when one of them is online.",
        len(names),
    ) % {"names": _(", ").join(names)}
    return RecipientOffline(detail, offline=[p.username for p in people])
