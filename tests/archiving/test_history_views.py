"""History views: repeats collapse into one record with a count; left out unless asked for."""

import pytest

from archiving.exports import runner
from archiving.models import ArchiveEvent, ArchiveRecord, ExportJob, HistoryViewRepeat
from archiving.search.indexing import search_index_pending
from chat import services as chat
from chat.models import Participant

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/archive/search/"


@pytest.fixture
def room(alice, bob):
    room = chat.room_create(creator=alice, title="Trading desk")
    for body in ("one", "two", "three"):
        chat.message_post(sender=alice, conversation_id=room.pk, body=body)
    chat.room_join(person=bob, room_id=room.pk)
    return room


def _views(room) -> list[ArchiveRecord]:
    return list(
        ArchiveRecord.objects.filter(
            conversation_id=room.pk, event=ArchiveEvent.HISTORY_VIEWED
        ).order_by("chain_index")
    )


def _view(person, room, seqs=(1, 2, 3)) -> bool:
    participation = Participant.objects.get(person=person, conversation=room, left_at=None)
    messages = list(room.messages.filter(seq__in=seqs).order_by("seq"))
    return chat.history_view_record(
        reader=person, participation=participation, messages=messages, is_backward=True
    )


def test_views_of_the_same_range_soon_after_are_one_record_with_a_count(room, bob):
    for _ in range(5):
        assert _view(bob, room) is True

    [view] = _views(room)
    assert view.actor_username == "bob"
    assert view.payload == {"from_seq": 1, "to_seq": 3, "count": 3}
    assert HistoryViewRepeat.objects.get(record=view).repeats == 4


def test_another_range_or_a_view_after_the_window_is_a_new_record(room, bob, settings):
    _view(bob, room)
    _view(bob, room, seqs=(1, 2))
    settings.PARLEY_HISTORY_VIEW_WINDOW_SECONDS = 0
    _view(bob, room)

    assert [(v.payload["from_seq"], v.payload["to_seq"]) for v in _views(room)] == [
        (1, 3),
        (1, 2),
        (1, 3),
    ]
    assert not HistoryViewRepeat.objects.exists()


def test_search_and_export_leave_history_views_out_unless_asked(room, bob, officer_client, export):
    _view(bob, room)
    _view(bob, room)
    search_index_pending()

    def events(include: bool) -> list[str]:
        body = {"conversations": [room.pk], "include_history_views": include, "page_size": 100}
        hits = officer_client.post(SEARCH, body, format="json").json()["hits"]
        return sorted({hit["event"] for hit in hits})

    assert ArchiveEvent.HISTORY_VIEWED not in events(False)
    assert ArchiveEvent.HISTORY_VIEWED in events(True)

    without = export({"format": "eml", "search": {"conversations": [room.pk]}}).json()
    with_views = export(
        {
            "format": "eml",
            "search": {"conversations": [room.pk], "include_history_views": True},
        }
    ).json()

    total = ArchiveRecord.objects.filter(conversation_id=room.pk).count()
    without, with_views = (ExportJob.objects.get(pk=job["id"]) for job in (without, with_views))
    assert (without.status, with_views.status) == ("completed", "completed")
    assert without.records_total == total - 1
    assert with_views.records_total == total
    assert with_views.scope["filters"]["include_history_views"] is True
    text = (runner.job_directory(with_views) / with_views.files.get().path).read_text()
    assert "Bob Chen viewed messages #1 to #3 of the room's history (2 times)." in text


def test_the_console_context_leaves_history_views_out_unless_asked(room, bob, officer_client):
    _view(bob, room)
    hit = ArchiveRecord.objects.get(conversation_id=room.pk, message_seq=2, event="message.posted")
    url = f"/api/v1/archive/records/{hit.pk}/context/"

    plain = officer_client.get(url, {"before": 10, "after": 10}).json()
    asked = officer_client.get(url, {"before": 10, "after": 10, "include_history_views": 1}).json()

    assert plain["conversation_name"] == "Trading desk"
    assert "history.viewed" not in [r["event"] for r in plain["records"]]
    [view] = [r for r in asked["records"] if r["event"] == "history.viewed"]
    assert view["description"] == "Bob Chen viewed messages #1 to #3 of the room's history."
    joined = next(r for r in plain["records"] if r["event"] == "participant.joined")
    assert joined["description"] == "Bob Chen joined the room."
