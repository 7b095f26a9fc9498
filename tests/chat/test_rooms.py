"""Rooms through the REST contract: create, directory, join, invitations, roles, auditoriums,
manager removals, member lists, history views (BACKCHAT) and their archive records."""

import pytest

from archiving.models import ArchiveRecord
from chat import services
from chat.models import Conversation, Invitation, Message, Participant
from directory.models import Department

pytestmark = pytest.mark.django_db


def events(room_id: int) -> list[tuple[str, str, dict]]:
    return list(
        ArchiveRecord.objects.filter(conversation_id=room_id)
        .order_by("chain_index")
        .values_list("event", "actor_username", "payload")
    )


def written() -> tuple[int, int, int, int]:
    return (
        Message.objects.count(),
        Participant.objects.filter(left_at__isnull=True).count(),
        ArchiveRecord.objects.count(),
        Invitation.objects.count(),
    )


def test_room_create_makes_the_creator_its_first_manager_and_archives_it(alice, api_client_for):
    # given / when
    response = api_client_for(alice).post(
        "/api/v1/rooms/",
        {
            "name": "  Rates desk ",
            "topic": "EUR swaps",
            "description": "Daily colour",
            "privacy": "closed",
            "kind": "auditorium",
        },
        format="json",
    )

    # then
    assert response.status_code == 201
    room = response.json()
    assert room == {
        "id": room["id"],
        "name": "Rates desk",
        "topic": "EUR swaps",
        "description": "Daily colour",
        "category": None,
        "privacy": "closed",
        "kind": "auditorium",
        "member_count": 1,
        "is_member": True,
        "role": "manager",
        "last_seq": 0,
        "last_message_at": None,
        "created_at": room["created_at"],
    }
    assert events(room["id"]) == [
        ("conversation.created", "alice", {"participants": ["alice"], "title": "Rates desk"})
    ]


def test_room_create_refuses_bad_privacy_and_writes_nothing(alice, api_client_for):
    before = written()

    response = api_client_for(alice).post(
        "/api/v1/rooms/", {"name": "x", "privacy": "public"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert written() == before


def test_room_directory_searches_name_topic_and_category_and_hides_secret_rooms(
    alice, bob, api_client_for
):
    # given
    fx = services.category_create(name="Fixed income")
    services.room_create(creator=alice, title="Gilts", topic="UK rates", category_id=fx.pk)
    services.room_create(creator=alice, title="Lunch", topic="where to eat")
    services.room_create(creator=alice, title="Gilt M&A", privacy="secret")
    bob_client = api_client_for(bob)

    # when
    by_name = bob_client.get("/api/v1/rooms/", {"q": "gilt"}).json()
    by_topic = bob_client.get("/api/v1/rooms/", {"q": "eat"}).json()
    by_category = bob_client.get("/api/v1/rooms/", {"q": "fixed"}).json()
    by_category_id = bob_client.get("/api/v1/rooms/", {"category": str(fx.pk)}).json()
    alice_sees = api_client_for(alice).get("/api/v1/rooms/", {"q": "gilt"}).json()

    # then
    assert [r["name"] for r in by_name["results"]] == ["Gilts"]
    assert by_name["total"] == 1
    assert (by_name["results"][0]["member_count"], by_name["results"][0]["is_member"]) == (1, False)
    assert by_name["results"][0]["category"] == {"id": fx.pk, "name": "Fixed income"}
    assert [r["name"] for r in by_topic["results"]] == ["Lunch"]
    assert [r["name"] for r in by_category["results"]] == ["Gilts"]
    assert [r["name"] for r in by_category_id["results"]] == ["Gilts"]
    assert [(r["name"], r["is_member"]) for r in alice_sees["results"]] == [
        ("Gilt M&A", True),
        ("Gilts", True),
    ]


def test_a_secret_room_is_404_by_direct_id_to_non_members(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="Project X", privacy="secret")
    client = api_client_for(bob)
    before = written()

    responses = [
        client.get(f"/api/v1/rooms/{room.pk}/"),
        client.get(f"/api/v1/rooms/{room.pk}/members/"),
        client.post(f"/api/v1/rooms/{room.pk}/join/"),
        client.get(f"/api/v1/conversations/{room.pk}/messages/"),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert responses[0].json()["error"]["code"] == "room_not_found"
    assert written() == before


def test_join_an_open_room_is_archived_and_a_closed_room_refuses(alice, bob, api_client_for):
    open_room = services.room_create(creator=alice, title="Open")
    closed_room = services.room_create(creator=alice, title="Closed", privacy="closed")
    client = api_client_for(bob)

    joined = client.post(f"/api/v1/rooms/{open_room.pk}/join/")
    again = client.post(f"/api/v1/rooms/{open_room.pk}/join/")
    before = written()
    refused = client.post(f"/api/v1/rooms/{closed_room.pk}/join/")

    assert joined.status_code == 201
    assert (joined.json()["is_member"], joined.json()["role"]) == (True, "member")
    assert events(open_room.pk)[-1] == (
        "participant.joined",
        "bob",
        {"person": "bob", "role": "member", "via": "join"},
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_member")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "room_closed")
    assert written() == before


def test_leave_is_archived_and_the_last_manager_must_hand_over_first(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R", members=[bob])

    refused = api_client_for(alice).post(f"/api/v1/rooms/{room.pk}/leave/")
    left = api_client_for(bob).post(f"/api/v1/rooms/{room.pk}/leave/")

    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "last_manager")
    assert left.status_code == 204
    assert events(room.pk)[-1] == ("participant.left", "bob", {"person": "bob"})
    assert list(
        Participant.objects.filter(conversation=room, left_at__isnull=True).values_list(
            "person__username", flat=True
        )
    ) == ["alice"]


def test_invitation_accept_joins_a_closed_room_and_both_steps_are_archived(
    alice, bob, api_client_for
):
    room = services.room_create(creator=alice, title="Closed", privacy="closed")
    bob_client = api_client_for(bob)

    invited = api_client_for(alice).post(
        f"/api/v1/rooms/{room.pk}/invitations/", {"username": "bob"}, format="json"
    )
    mine = bob_client.get("/api/v1/invitations/").json()
    accepted = bob_client.post(f"/api/v1/invitations/{invited.json()['id']}/accept/")

    assert invited.status_code == 201
    assert [(i["room"]["name"], i["invited_by"]["username"]) for i in mine["results"]] == [
        ("Closed", "alice")
    ]
    assert accepted.status_code == 200
    assert (accepted.json()["is_member"], accepted.json()["role"]) == (True, "member")
    assert bob_client.get("/api/v1/invitations/").json() == {"results": []}
    assert [e[0] for e in events(room.pk)] == [
        "conversation.created",
        "participant.invited",
        "participant.joined",
    ]


def test_invitation_decline_is_archived_and_does_not_join(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="Closed", privacy="closed")
    invitation = services.invitation_create(actor=alice, room_id=room.pk, username="bob")

    declined = api_client_for(bob).post(f"/api/v1/invitations/{invitation.pk}/decline/")

    assert declined.status_code == 204
    assert events(room.pk)[-1] == ("invitation.declined", "bob", {"person": "bob"})
    assert not Participant.objects.filter(conversation=room, person=bob).exists()


def test_invitations_are_refused_when_the_category_does_not_allow_them(alice, bob, api_client_for):
    category = services.category_create(name="No invites", allows_invitations=False)
    room = services.room_create(creator=alice, title="R", category_id=category.pk)
    before = written()

    response = api_client_for(alice).post(
        f"/api/v1/rooms/{room.pk}/invitations/", {"username": "bob"}, format="json"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (
        403,
        "invitations_disabled",
    )
    assert written() == before


def test_someone_elses_invitation_cannot_be_answered(alice, bob, carol, api_client_for):
    room = services.room_create(creator=alice, title="Closed", privacy="closed")
    invitation = services.invitation_create(actor=alice, room_id=room.pk, username="bob")
    before = written()

    response = api_client_for(carol).post(f"/api/v1/invitations/{invitation.pk}/accept/")

    assert (response.status_code, response.json()["error"]["code"]) == (
        404,
        "invitation_not_found",
    )
    assert written() == before


def test_manager_adds_a_presenter_changes_roles_and_each_change_is_archived(
    alice, bob, carol, api_client_for
):
    room = services.room_create(creator=alice, title="R")
    client = api_client_for(alice)

    added = client.post(
        f"/api/v1/rooms/{room.pk}/members/", {"username": "bob", "role": "presenter"}, format="json"
    )
    promoted = client.patch(
        f"/api/v1/rooms/{room.pk}/members/bob/", {"role": "manager"}, format="json"
    )
    by_post = client.post(
        f"/api/v1/rooms/{room.pk}/members/", {"username": "bob", "role": "member"}, format="json"
    )
    removed = api_client_for(bob).delete(f"/api/v1/rooms/{room.pk}/members/alice/")

    assert (added.status_code, added.json()["role"]) == (201, "presenter")
    assert (promoted.status_code, promoted.json()["role"]) == (200, "manager")
    assert (by_post.status_code, by_post.json()["role"]) == (200, "member")
    assert removed.status_code == 403  # bob is a member again, no longer a manager
    assert [(e, p) for e, _, p in events(room.pk)][1:] == [
        ("participant.joined", {"person": "bob", "role": "presenter", "via": "added"}),
        ("participant.role_changed", {"person": "bob", "from": "presenter", "to": "manager"}),
        ("participant.role_changed", {"person": "bob", "from": "manager", "to": "member"}),
    ]


def test_the_last_manager_cannot_demote_themself(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R", members=[bob])
    before = written()

    response = api_client_for(alice).patch(
        f"/api/v1/rooms/{room.pk}/members/alice/", {"role": "member"}, format="json"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (409, "last_manager")
    assert written() == before


def test_manager_removes_a_member_and_it_is_archived(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R", members=[bob])

    response = api_client_for(alice).delete(f"/api/v1/rooms/{room.pk}/members/bob/")

    assert response.status_code == 204
    assert events(room.pk)[-1] == (
        "participant.left",
        "alice",
        {"person": "bob", "reason": "removed_by_manager"},
    )
    assert api_client_for(bob).get(f"/api/v1/conversations/{room.pk}/messages/").status_code == 404


def test_room_update_by_a_manager_is_archived_and_refused_to_members(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R", members=[bob])
    before = written()
    refused = api_client_for(bob).patch(f"/api/v1/rooms/{room.pk}/", {"topic": "x"}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_manager")
    assert written() == before

    updated = api_client_for(alice).patch(
        f"/api/v1/rooms/{room.pk}/", {"topic": "New topic", "kind": "auditorium"}, format="json"
    )

    assert updated.status_code == 200
    assert (updated.json()["topic"], updated.json()["kind"]) == ("New topic", "auditorium")
    assert events(room.pk)[-1] == (
        "room.updated",
        "alice",
        {"topic": "New topic", "kind": "auditorium"},
    )


def test_in_an_auditorium_only_presenters_and_managers_post(alice, bob, carol, api_client_for):
    room = services.room_create(creator=alice, title="Town hall", room_kind="auditorium")
    services.room_member_add(actor=alice, room_id=room.pk, username="bob", role="presenter")
    services.room_member_add(actor=alice, room_id=room.pk, username="carol")
    url = f"/api/v1/conversations/{room.pk}/messages/"
    before = Message.objects.count()

    refused = api_client_for(carol).post(url, {"body": "question"}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "auditorium")
    assert Message.objects.count() == before

    presenter = api_client_for(bob).post(url, {"body": "welcome"}, format="json")
    manager = api_client_for(alice).post(url, {"body": "agenda"}, format="json")
    read = api_client_for(carol).get(url).json()

    assert (presenter.status_code, manager.status_code) == (201, 201)
    assert [m["body"] for m in read["results"]] == ["welcome", "agenda"]


def test_a_manager_removes_a_message_with_a_visible_notice_and_it_is_archived(
    alice, bob, api_client_for
):
    room = services.room_create(creator=alice, title="R", members=[bob])
    message, _ = services.message_post(sender=bob, conversation_id=room.pk, body="oops #tip")

    response = api_client_for(alice).delete(f"/api/v1/messages/{message.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["deleted"], body["body"], body["removed_by"]) == (True, "", "alice")
    assert events(room.pk)[-1] == ("message.removed_by_manager", "alice", {"sender": "bob"})
    assert ArchiveRecord.objects.get(event="message.posted", message_id=message.pk).body == (
        "oops #tip"
    )


def test_members_list_roles_and_presence_as_the_watcher_may_see_it(
    alice, bob, carol, api_client_for
):
    room = services.room_create(creator=alice, title="R", members=[bob, carol])
    services.room_member_role_change(
        actor=alice, room_id=room.pk, username="carol", role="presenter"
    )

    response = api_client_for(bob).get(f"/api/v1/rooms/{room.pk}/members/")

    assert response.status_code == 200
    data = response.json()
    assert data["total"] == 3
    assert [(m["username"], m["role"]) for m in data["results"]] == [
        ("alice", "manager"),
        ("carol", "presenter"),
        ("bob", "member"),
    ]
    assert all(m["presence"]["availability"] == "offline" for m in data["results"])


def test_closed_room_members_are_listed_to_members_only(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R", privacy="closed")

    response = api_client_for(bob).get(f"/api/v1/rooms/{room.pk}/members/")

    assert (response.status_code, response.json()["error"]["code"]) == (403, "not_member")


def test_history_off_category_shows_joiners_only_what_follows_their_join(
    alice, bob, api_client_for
):
    category = services.category_create(name="Ephemeral", keeps_history=False)
    room = services.room_create(creator=alice, title="R", category_id=category.pk)
    services.message_post(sender=alice, conversation_id=room.pk, body="before bob")
    services.room_join(person=bob, room_id=room.pk)
    services.message_post(sender=alice, conversation_id=room.pk, body="after bob")

    read = api_client_for(bob).get(f"/api/v1/conversations/{room.pk}/messages/").json()

    assert [m["body"] for m in read["results"]] == ["after bob"]


def test_history_kept_newcomer_reads_the_backlog_and_that_is_one_history_view(
    alice, bob, api_client_for
):
    room = services.room_create(creator=alice, title="R")
    for i in range(3):
        services.message_post(sender=alice, conversation_id=room.pk, body=f"m{i}")
    services.room_join(person=bob, room_id=room.pk)
    client = api_client_for(bob)

    first = client.get(f"/api/v1/conversations/{room.pk}/messages/", {"limit": 2}).json()
    older = client.get(
        f"/api/v1/conversations/{room.pk}/messages/", {"before_seq": 2, "limit": 2}
    ).json()
    nothing_newer = client.get(
        f"/api/v1/conversations/{room.pk}/messages/", {"after_seq": 3}
    ).json()

    assert [m["body"] for m in first["results"]] == ["m0", "m1"]
    assert [m["body"] for m in older["results"]] == ["m0"]
    assert nothing_newer["results"] == []
    assert [(e, a, p) for e, a, p in events(room.pk) if e == "history.viewed"] == [
        ("history.viewed", "bob", {"from_seq": 1, "to_seq": 2, "count": 2}),
        ("history.viewed", "bob", {"from_seq": 1, "to_seq": 1, "count": 1}),
    ]


def test_new_messages_read_by_an_existing_member_are_not_history_views(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R", members=[bob])
    services.message_post(sender=alice, conversation_id=room.pk, body="live")

    api_client_for(bob).get(f"/api/v1/conversations/{room.pk}/messages/")

    assert ArchiveRecord.objects.filter(event="history.viewed").count() == 0


def test_categories_list_hides_walled_ones_and_says_who_may_create(make_person, api_client_for):
    research = Department.objects.create(name="Research")
    trader = make_person("trader")
    analyst = make_person("analyst", department=research)
    services.category_create(name="Trading", denied_departments=[research])
    services.category_create(name="Managed", creator_people=[trader])
    services.category_create(name="Open")

    as_analyst = api_client_for(analyst).get("/api/v1/categories/").json()
    as_trader = api_client_for(trader).get("/api/v1/categories/").json()

    assert [(c["name"], c["can_create"]) for c in as_analyst["results"]] == [
        ("Managed", False),
        ("Open", True),
    ]
    assert [(c["name"], c["can_create"]) for c in as_trader["results"]] == [
        ("Managed", True),
        ("Open", True),
        ("Trading", True),
    ]


def test_room_create_in_a_category_needs_creator_rights(make_person, api_client_for):
    trader, other = make_person("trader"), make_person("other")
    category = services.category_create(name="Managed", creator_people=[trader])
    before = written()

    refused = api_client_for(other).post(
        "/api/v1/rooms/", {"name": "R", "category": category.pk}, format="json"
    )

    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_category_creator")
    assert written() == before
    assert Conversation.objects.filter(kind="room").count() == 0


def test_a_huge_directory_offset_is_a_clear_400(alice, api_client_for):
    response = api_client_for(alice).get("/api/v1/rooms/", {"offset": "9" * 30})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "detail": "offset must be at most 1000000; narrow the search instead.",
    }
