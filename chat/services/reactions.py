"""Emoji reactions to messages: add, remove, and the summary each message carries.

The Reaction rows are the truth (one per person and emoji); Message.reactions is their summary
in the public shape, rewritten from the rows under the message's row lock on every change, so
message lists and frames show reactions without reading another table. Each change is
archived as its own event (reaction.added / reaction.removed) and announced to the
conversation as message.updated after commit.
"""

import unicodedata

import emoji as emoji_data
from django.db import transaction
from django.utils import timezone

from archiving.models import ArchiveEvent
from chat import realtime
from chat.models import Message, Participant, Reaction
from chat.services.messages import _capture, message_lock_for_change
from directory.exceptions import Forbidden, InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.models import Person

# The longest emoji in use (a family or a flag of tags) is 10 code points; anything longer is
# refused before the emoji data is consulted.
EMOJI_MAX_CODE_POINTS = 16


def emoji_validate(emoji) -> str:
    """Return the emoji as stored (NFC), or refuse anything but one emoji."""
    if not isinstance(emoji, str) or not emoji:
        raise InvalidInput(_("emoji must be one emoji, e.g. a thumbs up."), code="invalid_emoji")
    emoji = unicodedata.normalize("NFC", emoji)
    if len(emoji) > EMOJI_MAX_CODE_POINTS or not emoji_data.is_emoji(emoji):
        raise InvalidInput(
            _(
                "emoji must be exactly one emoji (a single character or emoji "
                "sequence, such as a thumbs up or a flag), not text, a shortcode "
                "or several emoji."
            ),
            code="invalid_emoji",
        )
    return emoji


def _reactable(*, person: Person, message_id: int) -> tuple[Message, Participant]:
    message, participation = message_lock_for_change(actor=person, message_id=message_id)
    conversation = participation.conversation
    if conversation.posting_closed_at is not None:
        raise Forbidden(
            conversation.posting_closed_reason or "This conversation is closed for posting.",
            code="conversation_closed",
        )
    return message, participation


def _summary_rewrite(message: Message) -> None:
    summary: dict[str, list[str]] = {}
    for emoji, username in (
        Reaction.objects.filter(message=message)
        .order_by("id")
        .values_list("emoji", "person__username")
    ):
        summary.setdefault(emoji, []).append(username)
    message.reactions = [
        {"emoji": emoji, "count": len(people), "people": people}
        for emoji, people in summary.items()
    ]
    message.save(update_fields=["reactions"])


def _announce(message: Message, participation: Participant, *, event: str, actor, emoji: str):
    _summary_rewrite(message)
    _capture(
        participation.conversation,
        event=event,
        actor=actor,
        occurred_at=timezone.now(),
        message=message,
        payload={"emoji": emoji, "sender": message.sender.username},
    )
    transaction.on_commit(lambda: realtime.message_updated(message), robust=True)


@transaction.atomic
def reaction_add(*, person: Person, message_id: int, emoji: str) -> tuple[Message, bool]:
    """Add the person's reaction to a message they can read; (message, False) when it was
    already there."""
    emoji = emoji_validate(emoji)
    message, participation = _reactable(person=person, message_id=message_id)
    # The message row is locked: a concurrent add of the same reaction waits, then sees it.
    if Reaction.objects.filter(message=message, person=person, emoji=emoji).exists():
        return message, False
    Reaction.objects.create(message=message, person=person, emoji=emoji)
    _announce(message, participation, event=ArchiveEvent.REACTION_ADDED, actor=person, emoji=emoji)
    return message, True


@transaction.atomic
def reaction_remove(*, person: Person, message_id: int, emoji: str) -> Message:
    """Remove the person's reaction from a message; removing one that is not there changes
    nothing (and archives nothing)."""
    emoji = emoji_validate(emoji)
    message, participation = _reactable(person=person, message_id=message_id)
    removed, _ignored = Reaction.objects.filter(
        message=message, person=person, emoji=emoji
    ).delete()
    if removed:
        _announce(
            message, participation, event=ArchiveEvent.REACTION_REMOVED, actor=person, emoji=emoji
        )
    return message
