"""The archive's event vocabulary: each kind's sentence (actor and subject right) and RSMF type."""

from datetime import UTC, datetime

import pytest

from archiving.events import MessageTexts, Names, described_kinds, event_describe, event_line
from archiving.models import ArchiveEvent, ArchiveRecord

NAMES = Names(
    {"alice": "Alice Martin", "bob": "Bob Chen", "carol": "Carol Diaz", "dave": "Dave Evans"}
)
AT = datetime(2026, 11, 2, 11, 30, 12, tzinfo=UTC)


def record(event, actor="alice", *, kind="room", body="", payload=None, message=None, seq=None):
    return ArchiveRecord(
        conversation_id=7,
        conversation_kind=kind,
        chain_index=3,
        event=event,
        actor_username=actor,
        body=body,
        payload=payload or {},
        message_id=message,
        message_seq=seq,
        occurred_at=AT,
    )


def texts_with(message_id: int, text: str) -> MessageTexts:
    texts = MessageTexts()
    texts.note(record(ArchiveEvent.MESSAGE_POSTED, body=text, message=message_id))
    return texts


CASES = [
    (
        "message not delivered to someone offline",
        record(
            ArchiveEvent.MESSAGE_NOT_DELIVERED,
            body="are you there?",
            payload={"offline": ["bob"]},
            message=1,
            seq=5,
        ),
        None,
        "Alice Martin sent a message that was not delivered because bob was offline and "
        "offline delivery is off: are you there?",
        "disclaimer",
    ),
    (
        "message posted",
        record(ArchiveEvent.MESSAGE_POSTED, body="Ship it\nafter lunch", message=1, seq=5),
        None,
        "#5 Alice Martin: Ship it\nafter lunch",
        "message",
    ),
    (
        "message edited",
        record(ArchiveEvent.MESSAGE_EDITED, body="Ship it today", message=1, seq=5),
        texts_with(1, "Ship it"),
        "Alice Martin edited message #5: Ship it today",
        "message",
    ),
    (
        "message deleted by its author",
        record(ArchiveEvent.MESSAGE_DELETED, payload={"sender": "alice"}, message=1, seq=5),
        texts_with(1, "Ship it"),
        "Alice Martin deleted message #5: Ship it",
        "message",
    ),
    (
        "message removed by a manager",
        record(
            ArchiveEvent.MESSAGE_REMOVED_BY_MANAGER,
            "carol",
            payload={"sender": "alice"},
            message=1,
            seq=5,
        ),
        texts_with(1, "Ship it"),
        "Carol Diaz (manager) removed message #5 by Alice Martin: Ship it",
        "message",
    ),
    (
        "room created",
        record(
            ArchiveEvent.CONVERSATION_CREATED,
            payload={"participants": ["alice"], "title": "Trading desk"},
        ),
        None,
        "Alice Martin created the room \u201cTrading desk\u201d.",
        "join",
    ),
    (
        "direct conversation started",
        record(
            ArchiveEvent.CONVERSATION_CREATED,
            kind="direct",
            payload={"participants": ["alice", "bob"], "title": ""},
        ),
        None,
        "Alice Martin started a direct conversation with Bob Chen.",
        "join",
    ),
    (
        "joined by themselves",
        record(ArchiveEvent.PARTICIPANT_JOINED, "bob", payload={"person": "bob", "via": "join"}),
        None,
        "Bob Chen joined the room.",
        "join",
    ),
    (
        "joined accepting an invitation",
        record(
            ArchiveEvent.PARTICIPANT_JOINED, "dave", payload={"person": "dave", "via": "invitation"}
        ),
        None,
        "Dave Evans joined the room, accepting an invitation.",
        "join",
    ),
    (
        "added by a manager",
        record(
            ArchiveEvent.PARTICIPANT_JOINED,
            "alice",
            payload={"person": "bob", "role": "presenter", "via": "added"},
        ),
        None,
        "Alice Martin added Bob Chen to the room as presenter.",
        "join",
    ),
    (
        "left",
        record(ArchiveEvent.PARTICIPANT_LEFT, "bob", payload={"person": "bob"}),
        None,
        "Bob Chen left the room.",
        "leave",
    ),
    (
        "removed by a manager",
        record(
            ArchiveEvent.PARTICIPANT_LEFT,
            "carol",
            payload={"person": "bob", "reason": "removed_by_manager"},
        ),
        None,
        "Carol Diaz (manager) removed Bob Chen from the room.",
        "leave",
    ),
    (
        "removed by an ethical wall",
        record(
            ArchiveEvent.PARTICIPANT_LEFT, "", payload={"person": "bob", "reason": "ethical_wall"}
        ),
        None,
        "Bob Chen was removed from the room by an ethical wall "
        "(the room's category no longer allows them).",
        "leave",
    ),
    (
        "invited",
        record(ArchiveEvent.PARTICIPANT_INVITED, payload={"person": "dave"}),
        None,
        "Alice Martin invited Dave Evans to the room.",
        "disclaimer",
    ),
    (
        "invitation declined",
        record(ArchiveEvent.INVITATION_DECLINED, "dave", payload={"person": "dave"}),
        None,
        "Dave Evans declined the invitation to the room.",
        "disclaimer",
    ),
    (
        "role changed",
        record(
            ArchiveEvent.PARTICIPANT_ROLE_CHANGED,
            payload={"person": "bob", "from": "member", "to": "manager"},
        ),
        None,
        "Alice Martin made Bob Chen a manager of the room (was member).",
        "disclaimer",
    ),
    (
        "room changed",
        record(ArchiveEvent.ROOM_UPDATED, payload={"name": "Desk", "topic": ""}),
        None,
        "Alice Martin changed the room: set its name to \u201cDesk\u201d; cleared its topic.",
        "disclaimer",
    ),
    (
        "file uploaded",
        record(
            ArchiveEvent.FILE_UPLOADED,
            payload={
                "file": 4,
                "name": "chart.png",
                "size": 98,
                "sha256": "a116e6" + "0" * 58,
                "content_type": "image/png",
                "storage_path": "files/a1/a116e6",
            },
            message=2,
            seq=6,
        ),
        None,
        "Alice Martin uploaded chart.png (98 B, SHA-256 a116e6000000...) as message #6.",
        "message",
    ),
    (
        "file downloaded",
        record(
            ArchiveEvent.FILE_DOWNLOADED,
            "bob",
            payload={"file": 4, "name": "chart.png", "sha256": "a116e6" + "0" * 58},
        ),
        None,
        "Bob Chen downloaded chart.png (SHA-256 a116e6000000...).",
        "disclaimer",
    ),
    (
        "history viewed",
        record(
            ArchiveEvent.HISTORY_VIEWED, "bob", payload={"from_seq": 1, "to_seq": 7, "count": 7}
        ),
        None,
        "Bob Chen viewed messages #1 to #7 of the room's history.",
        "history",
    ),
    (
        "federation delivery error",
        record(
            ArchiveEvent.MESSAGE_DELIVERY_FAILED,
            payload={"recipient": "zoe@partner.example", "error": "remote server timeout"},
            message=1,
            seq=5,
        ),
        None,
        "Message #5 by Alice Martin was not delivered to zoe@partner.example: "
        "remote server timeout.",
        "disclaimer",
    ),
    (
        "message not delivered: the recipients were offline",
        record(
            ArchiveEvent.MESSAGE_NOT_DELIVERED,
            kind="group",
            body="Anyone there?",
            payload={"offline": ["Bob Chen", "Carol Diaz"], "client_id": "c1"},
        ),
        None,
        "Alice Martin sent a message that was not delivered because Bob Chen, Carol Diaz were "
        "offline and offline delivery is off: Anyone there?",
        "disclaimer",
    ),
    (
        "conversation closed by an information barrier",
        record(
            ArchiveEvent.CONVERSATION_CLOSED,
            None,
            kind="group",
            payload={"reason": "Research and trading may not talk"},
        ),
        None,
        "The conversation was closed for posting: Research and trading may not talk.",
        "disclaimer",
    ),
    (
        "conversation reopened",
        record(
            ArchiveEvent.CONVERSATION_REOPENED,
            None,
            kind="direct",
            payload={"reason": "The information barrier no longer divides it"},
        ),
        None,
        "The conversation was reopened for posting: The information barrier no longer divides it.",
        "disclaimer",
    ),
    (
        "a kind from elsewhere (polls)",
        record(
            "poll.voted",
            "bob",
            payload={"choice": "thumbs up", "storage_path": "x/y", "message": 5},
        ),
        None,
        "Bob Chen: poll voted (choice: thumbs up; message: 5).",
        "unknown",
    ),
    (
        "a reply",
        record(
            ArchiveEvent.MESSAGE_REPLIED,
            "bob",
            kind="group",
            payload={"reply_to_seq": 12, "reply_to_sender": "alice"},
            message=14,
            seq=13,
        ),
        None,
        "Bob Chen replied to message #12 by Alice Martin with message #13.",
        "disclaimer",
    ),
    (
        "a mention of two people",
        record(
            ArchiveEvent.MESSAGE_MENTIONED, payload={"people": ["bob", "carol"]}, message=3, seq=3
        ),
        None,
        "Alice Martin mentioned Bob Chen and Carol Diaz in message #3.",
        "disclaimer",
    ),
    (
        "a reaction",
        record(
            ArchiveEvent.REACTION_ADDED,
            payload={"emoji": "\N{THUMBS UP SIGN}", "sender": "bob"},
            message=9,
            seq=12,
        ),
        None,
        "Alice Martin reacted \N{THUMBS UP SIGN} to message #12 by Bob Chen.",
        "disclaimer",
    ),
    (
        "a reaction taken back",
        record(
            ArchiveEvent.REACTION_REMOVED,
            "bob",
            payload={"emoji": "\N{THUMBS UP SIGN}", "sender": "bob"},
            message=9,
            seq=12,
        ),
        None,
        "Bob Chen removed the reaction \N{THUMBS UP SIGN} from message #12 by Bob Chen.",
        "disclaimer",
    ),
    (
        "a read receipt",
        record(ArchiveEvent.CONVERSATION_READ, "carol", kind="direct", payload={"seq": 8}),
        None,
        "Carol Diaz read the conversation up to message #8.",
        "disclaimer",
    ),
]


@pytest.mark.parametrize(
    ("record_", "texts", "line", "rsmf_type"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_event_kind_reads_as_a_sentence_with_its_rsmf_type(record_, texts, line, rsmf_type):
    described = event_describe(record_, name=NAMES, texts=texts or MessageTexts())

    assert event_line(described, name=NAMES) == line
    assert described.rsmf_type == rsmf_type
    assert "{" not in line
    assert "storage" not in line
    assert "files/" not in line


def test_every_archive_event_kind_has_its_own_sentence():
    assert set(ArchiveEvent.values) <= described_kinds()
    covered = {case[1].event for case in CASES}
    assert set(ArchiveEvent.values) <= covered


def test_a_collapsed_history_view_says_how_many_times():
    viewed = record(
        ArchiveEvent.HISTORY_VIEWED, "bob", payload={"from_seq": 3, "to_seq": 3, "count": 1}
    )
    viewed.repeat_views = 4

    described = event_describe(viewed, name=NAMES, texts=MessageTexts())

    assert described.statement() == "Bob Chen viewed message #3 of the room's history (5 times)."
