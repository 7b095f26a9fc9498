"""Categories as ethical walls: who may be added, invited, join, read and find; changing a
category (service and Django admin) removes the members it now walls out, archived."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from archiving.models import ArchiveRecord
from archiving.search.indexing import search_index_pending
from chat import services, tasks
from chat.models import Category, Invitation, Message, Participant
from directory.exceptions import Forbidden, NotFound
from directory.models import Department

pytestmark = pytest.mark.django_db


def written() -> tuple[int, int, int, int]:
    return (
        Message.objects.count(),
        Participant.objects.filter(left_at__isnull=True).count(),
        ArchiveRecord.objects.count(),
        Invitation.objects.count(),
    )


def members(room) -> list[str]:
    return sorted(
        Participant.objects.filter(conversation=room, left_at__isnull=True).values_list(
            "person__username", flat=True
        )
    )


def removals(room) -> list[tuple[str, dict]]:
    return list(
        ArchiveRecord.objects.filter(
            conversation_id=room.pk, event="participant.left", payload__has_key="reason"
        )
        .order_by("chain_index")
        .values_list("actor_username", "payload")
    )


@pytest.fixture
def research():
    return Department.objects.create(name="Research")


def test_a_denied_person_cannot_be_added_invited_or_join_and_nothing_is_written(
    alice, make_person, research, api_client_for
):
    analyst = make_person("analyst", department=research)
    category = services.category_create(name="Trading", denied_departments=[research])
    room = services.room_create(creator=alice, title="Flow", category_id=category.pk)
    before = written()

    added = api_client_for(alice).post(
        f"/api/v1/rooms/{room.pk}/members/", {"username": "analyst"}, format="json"
    )
    via_participants = api_client_for(alice).post(
        f"/api/v1/conversations/{room.pk}/participants/", {"username": "analyst"}, format="json"
    )
    invited = api_client_for(alice).post(
        f"/api/v1/rooms/{room.pk}/invitations/", {"username": "analyst"}, format="json"
    )
    joined = api_client_for(analyst).post(f"/api/v1/rooms/{room.pk}/join/")
    seen = api_client_for(analyst).get(f"/api/v1/rooms/{room.pk}/")
    listed = api_client_for(analyst).get("/api/v1/rooms/").json()

    assert (added.status_code, added.json()["error"]["code"]) == (403, "walled_out")
    assert (via_participants.status_code, via_participants.json()["error"]["code"]) == (
        403,
        "walled_out",
    )
    assert (invited.status_code, invited.json()["error"]["code"]) == (403, "walled_out")
    assert (joined.status_code, seen.status_code) == (404, 404)
    assert listed == {"results": [], "total": 0}
    assert written() == before


def test_denied_wins_over_allowed(alice, make_person, research):
    analyst = make_person("analyst", department=research)
    category = services.category_create(
        name="Both", allowed_people=[analyst, alice], denied_departments=[research]
    )
    room = services.room_create(creator=alice, title="R", category_id=category.pk)

    with pytest.raises(Forbidden) as refused:
        services.room_member_add(actor=alice, room_id=room.pk, username="analyst")

    assert refused.value.code == "walled_out"


def test_a_non_empty_allowed_list_keeps_everyone_else_out(alice, bob, carol):
    traders = Group.objects.create(name="Traders")
    bob.groups.add(traders)
    category = services.category_create(
        name="Desk", allowed_people=[alice], allowed_groups=[traders]
    )
    room = services.room_create(creator=alice, title="R", category_id=category.pk)

    services.room_join(person=bob, room_id=room.pk)
    with pytest.raises(NotFound):
        services.room_join(person=carol, room_id=room.pk)

    assert members(room) == ["alice", "bob"]


def test_category_update_removes_the_members_now_walled_out_each_archived(
    alice, bob, carol, make_person, research
):
    # given a room of four, two of whom are in Research
    dave = make_person("dave", department=research)
    carol.department = research
    carol.save()
    category = services.category_create(name="Trading")
    room = services.room_create(
        creator=alice, title="Flow", category_id=category.pk, members=[bob, carol, dave]
    )
    other = services.room_create(
        creator=alice, title="Other", category_id=category.pk, members=[carol]
    )

    # when Research is walled out
    removed = services.category_update(
        actor=alice, category_id=category.pk, changes={"denied_departments": [research]}
    )

    # then
    assert removed == 3
    assert members(room) == ["alice", "bob"]
    assert members(other) == ["alice"]
    assert removals(room) == [
        ("alice", {"person": "carol", "reason": "ethical_wall"}),
        ("alice", {"person": "dave", "reason": "ethical_wall"}),
    ]
    assert removals(other) == [("alice", {"person": "carol", "reason": "ethical_wall"})]


def test_category_update_of_only_a_switch_removes_nobody(alice, bob):
    category = services.category_create(name="Trading")
    room = services.room_create(creator=alice, title="R", category_id=category.pk, members=[bob])
    before = ArchiveRecord.objects.count()

    removed = services.category_update(
        actor=alice, category_id=category.pk, changes={"allows_files": False}
    )

    assert removed == 0
    assert members(room) == ["alice", "bob"]
    assert ArchiveRecord.objects.count() == before
    assert Category.objects.get(pk=category.pk).allows_files is False


def test_the_admin_save_path_goes_through_category_update(alice, bob, make_person):
    # given a staff administrator and a room with bob in it
    admin = make_person("admin", is_staff=True, is_superuser=True)
    category = services.category_create(name="Trading", description="desk")
    room = services.room_create(creator=alice, title="R", category_id=category.pk, members=[bob])
    client = Client()
    client.force_login(admin)

    # when the administrator denies bob in the admin
    response = client.post(
        f"/admin/chat/category/{category.pk}/change/",
        {
            "name": "Trading",
            "description": "desk",
            "allows_invitations": "on",
            "allows_files": "on",
            "keeps_history": "on",
            "denied_people": [str(bob.pk)],
        },
    )

    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(Category.objects.get(pk=category.pk).denied_people.all()) == [bob]
    assert members(room) == ["alice"]
    assert removals(room) == [("admin", {"person": "bob", "reason": "ethical_wall"})]


def test_the_admin_lists_and_searches_categories_and_rooms(alice, make_person):
    admin = make_person("admin", is_staff=True, is_superuser=True)
    category = services.category_create(name="Trading")
    services.room_create(creator=alice, title="Flow", category_id=category.pk)
    client = Client()
    client.force_login(admin)

    categories = client.get("/admin/chat/category/", {"q": "trad"})
    rooms = client.get("/admin/chat/conversation/", {"category__id__exact": category.pk})

    assert categories.status_code == 200
    assert "Trading" in categories.content.decode()
    assert rooms.status_code == 200
    assert "Flow" in rooms.content.decode()


def test_history_search_never_shows_messages_of_a_walled_room(alice, bob, research, api_client_for):
    category = services.category_create(name="Trading")
    room = services.room_create(creator=alice, title="R", category_id=category.pk, members=[bob])
    services.message_post(sender=alice, conversation_id=room.pk, body="merger rumour")
    search_index_pending()
    before = api_client_for(bob).get("/api/v1/search/", {"q": "merger"}).json()

    bob.department = research
    bob.save()
    Category.objects.get(pk=category.pk).denied_departments.add(research)  # no re-check yet
    after = api_client_for(bob).get("/api/v1/search/", {"q": "merger"}).json()

    assert [m["body"] for m in before["results"]] == ["merger rumour"]
    assert after["results"] == []


def test_a_denied_creator_cannot_create_a_room_in_the_category(alice, research, make_person):
    analyst = make_person("analyst", department=research)
    category = services.category_create(name="Trading", denied_departments=[research])
    before = written()

    with pytest.raises(NotFound) as refused:
        services.room_create(creator=analyst, title="R", category_id=category.pk)

    assert refused.value.code == "category_not_found"
    assert written() == before


def test_the_walls_sweep_removes_people_moved_into_a_denied_department(alice, bob, carol, research):
    # given Research is denied and bob, a member, moves into Research (no category change)
    category = services.category_create(name="Trading", denied_departments=[research])
    room = services.room_create(
        creator=alice, title="R", category_id=category.pk, members=[bob, carol]
    )
    bob.department = research
    bob.save()

    # when the periodic task runs (twice: it is idempotent)
    first = tasks.category_walls_sweep.delay().get()
    second = tasks.category_walls_sweep.delay().get()

    # then
    assert (first, second) == (1, 0)
    assert members(room) == ["alice", "carol"]
    assert removals(room) == [("", {"person": "bob", "reason": "ethical_wall"})]
