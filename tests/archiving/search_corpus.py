"""The conformance corpus: one small archive every search backend must answer identically.

Records are captured through archiving.services.capture (so chains, memberships and outbox
rows are the real ones) into conversations that exist only in the archive. Each record has a
label; tests name expected hits by label.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from archiving.models import ArchiveEvent, ArchiveRecord
from archiving.services import capture
from directory.models import Person

DAY1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DIRECT, GROUP, ROOM, EXTERNAL, KOREAN = 101, 102, 103, 104, 105
PAGING_TIME = DAY1 + timedelta(days=4, hours=3)
PINGS = 7


@dataclass
class Corpus:
    people: dict[str, Person]
    records: dict[str, ArchiveRecord] = field(default_factory=dict)

    def labels(self, record_ids) -> list[str]:
        by_id = {record.pk: label for label, record in self.records.items()}
        return [by_id[record_id] for record_id in record_ids]


def corpus_build(people: dict[str, Person]) -> Corpus:
    """Capture the corpus; return it with its records by label."""
    corpus = Corpus(people=people)
    members: dict[int, list[str]] = {}
    message_ids = iter(range(9000, 10000))

    def add(label, conversation, event, actor, at, body="", *, kind, external=False, **extra):
        record = capture(
            conversation_id=conversation,
            conversation_kind=kind,
            is_external=external,
            participant_ids=[people[name].pk for name in members[conversation]],
            event=event,
            actor=people[actor],
            occurred_at=at,
            body=body,
            message_id=extra.get("message_id"),
            payload=extra.get("payload"),
        )
        assert record is not None
        corpus.records[label] = record
        return record

    def message(label, conversation, actor, at, body, *, kind, external=False):
        return add(
            label,
            conversation,
            ArchiveEvent.MESSAGE_POSTED,
            actor,
            at,
            body,
            kind=kind,
            external=external,
            message_id=next(message_ids),
        )

    t = DAY1
    members[DIRECT] = ["alice", "bob"]
    add("direct_created", DIRECT, ArchiveEvent.CONVERSATION_CREATED, "alice", t, kind="direct")
    message("merger_on_track", DIRECT, "alice", t + timedelta(minutes=1),
            "The merger with Contoso is on track", kind="direct")  # fmt: skip
    message("merger_final", DIRECT, "bob", t + timedelta(minutes=2),
            "Is the MERGER final? Send the draft.", kind="direct")  # fmt: skip
    message("mergers_team", DIRECT, "alice", t + timedelta(minutes=3),
            "Mergers and acquisitions team meets Friday", kind="direct")  # fmt: skip

    t = DAY1 + timedelta(days=1, hours=1)
    members[GROUP] = ["alice", "bob", "carol"]
    add("group_created", GROUP, ArchiveEvent.CONVERSATION_CREATED, "bob", t, kind="group")
    kickoff = message("kickoff", GROUP, "carol", t + timedelta(minutes=1),
                      "Project Blue kickoff: lunch or dinner on Friday?", kind="group")  # fmt: skip
    same = message("blue_project", GROUP, "bob", t + timedelta(minutes=2),
                   "blue project is not the same as project blue", kind="group")  # fmt: skip
    message("dinner_monday", GROUP, "alice", t + timedelta(minutes=3),
            "Dinner on Monday then", kind="group")  # fmt: skip
    add("kickoff_edited", GROUP, ArchiveEvent.MESSAGE_EDITED, "carol", t + timedelta(minutes=5),
        "Project Blue kickoff: dinner on Friday", kind="group",
        message_id=kickoff.message_id)  # fmt: skip
    add("blue_deleted", GROUP, ArchiveEvent.MESSAGE_DELETED, "bob", t + timedelta(minutes=6),
        kind="group", message_id=same.message_id, payload={"sender": "bob"})  # fmt: skip
    add("term_sheet", GROUP, "file.uploaded", "alice", t + timedelta(minutes=7),
        "merger_term_sheet.pdf", kind="group",
        payload={"name": "merger_term_sheet.pdf"})  # fmt: skip

    t = DAY1 + timedelta(days=2, hours=2)
    members[ROOM] = ["carol", "alice"]
    add("room_created", ROOM, ArchiveEvent.CONVERSATION_CREATED, "carol", t, kind="room")
    message("cafe", ROOM, "carol", t + timedelta(minutes=1),
            "Café au lait at the CAFÉ downstairs", kind="room")  # fmt: skip
    message("cjk", ROOM, "alice", t + timedelta(minutes=2), "明天的会议纪要已经发出", kind="room")
    members[ROOM].append("dave")
    add("dave_joined", ROOM, ArchiveEvent.PARTICIPANT_JOINED, "dave", t + timedelta(minutes=3),
        kind="room", payload={"person": "dave"})  # fmt: skip
    message("draft_v2", ROOM, "dave", t + timedelta(minutes=4),
            "merger draft v2 attached", kind="room")  # fmt: skip
    add("carol_left", ROOM, ArchiveEvent.PARTICIPANT_LEFT, "carol", t + timedelta(minutes=5),
        kind="room", payload={"person": "carol"})  # fmt: skip
    members[ROOM].remove("carol")
    message("numbers", ROOM, "alice", t + timedelta(days=1),
            "confidential merger numbers", kind="room")  # fmt: skip

    # Korean: particles and endings attach to the word (회의록을, 금요일입니다), and compounds
    # are spaced either way (회의록 / 회의 록).
    t = DAY1 + timedelta(days=3, hours=1)
    members[KOREAN] = ["alice", "bob"]
    add("korean_created", KOREAN, ArchiveEvent.CONVERSATION_CREATED, "alice", t, kind="group")
    message("ko_minutes", KOREAN, "alice", t + timedelta(minutes=1),
            "내일 회의록을 보내 드리겠습니다", kind="group")  # fmt: skip
    message("ko_spaced", KOREAN, "bob", t + timedelta(minutes=2),
            "회의 록은 금요일에 공유합니다", kind="group")  # fmt: skip
    message("ko_merger", KOREAN, "alice", t + timedelta(minutes=3),
            "합병 계약서 초안은 금요일입니다", kind="group")  # fmt: skip

    t = DAY1 + timedelta(days=3, hours=3)
    members[EXTERNAL] = ["bob", "carol"]
    add("external_created", EXTERNAL, ArchiveEvent.CONVERSATION_CREATED, "bob", t,
        kind="direct", external=True)  # fmt: skip
    message("escape", EXTERNAL, "carol", t + timedelta(minutes=1),
            'merger? conversation:101 OR "anything" sender:alice', kind="direct",
            external=True)  # fmt: skip

    for n in range(PINGS):
        message(f"ping{n}", ROOM, "alice", PAGING_TIME, f"ping number {n}", kind="room")
    return corpus
