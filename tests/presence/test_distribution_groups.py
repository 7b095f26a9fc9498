"""Distribution groups in contact lists: a directory group added to my contacts is expanded on
the server to its current members with their presence, and my sockets follow its membership."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group

from directory.models import DirectoryGroup
from presence import distribution_groups
from tests.presence.test_consumers import TIMEOUT, assert_silent, receive, sockets  # noqa: F401


def _directory_group(name: str, *members) -> Group:
    group = Group.objects.create(name=name)
    DirectoryGroup.objects.create(group=group, dn=f"cn={name},ou=groups,dc=parley,dc=test")
    group.user_set.add(*members)
    return group


@pytest.mark.django_db
def test_a_directory_group_in_contacts_lists_its_current_members_with_presence(
    alice, bob, make_person, api_client_for
):
    carol = make_person("carol", display_name="Carol Diaz")
    research = _directory_group("research", bob, carol, alice)
    api = api_client_for(alice)

    added = api.post("/api/v1/contact-groups/", {"group": "research"}, format="json")

    assert added.status_code == 201
    assert added.json()["name"] == "research"
    members = added.json()["members"]
    assert [m["username"] for m in members] == ["bob", "carol"]  # not myself
    assert members[0]["display_name"] == "Bob Chen"
    assert members[0]["presence"]["availability"] == "offline"
    # The directory moves people: the list follows at the next read.
    research.user_set.remove(carol)
    listed = api.get("/api/v1/contact-groups/").json()["results"]
    assert [[m["username"] for m in g["members"]] for g in listed] == [["bob"]]


@pytest.mark.django_db
def test_only_directory_groups_can_be_added_once_and_removed(alice, bob, api_client_for):
    Group.objects.get_or_create(name="Compliance")  # a local group is not a distribution group
    _directory_group("research", bob)
    api = api_client_for(alice)

    local = api.post("/api/v1/contact-groups/", {"group": "Compliance"}, format="json")
    first = api.post("/api/v1/contact-groups/", {"group": "research"}, format="json")
    again = api.post("/api/v1/contact-groups/", {"group": "research"}, format="json")
    removed = api.delete("/api/v1/contact-groups/research/")
    gone = api.delete("/api/v1/contact-groups/research/")

    assert local.status_code == 404
    assert local.json()["error"]["code"] == "group_not_found"
    assert (first.status_code, again.status_code) == (201, 409)
    assert (removed.status_code, gone.status_code) == (204, 404)
    assert api.get("/api/v1/contact-groups/").json() == {"results": []}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_my_sockets_watch_members_and_follow_membership_changes(
    sockets,  # noqa: F811
    alice,
    bob,
    make_person,
):
    carol = await database_sync_to_async(make_person)("carol", display_name="Carol Diaz")
    research = await database_sync_to_async(_directory_group)("research", bob)
    await database_sync_to_async(distribution_groups.contact_group_add)(
        owner=alice, name="research"
    )
    alice_ws, _ = await sockets.connect(alice)

    # A member present at connect is watched: bob comes online, alice sees it.
    bob_ws, _ = await sockets.connect(bob)
    [update] = await receive(alice_ws)
    assert (update["type"], update["user"], update["availability"]) == (
        "presence.update",
        "bob",
        "available",
    )

    # A sync adds carol to the group: alice's socket starts watching her at once.
    await database_sync_to_async(research.user_set.add)(carol)
    await database_sync_to_async(distribution_groups.contact_groups_follow)(person_ids=[carol.pk])
    [now_watched] = await receive(alice_ws)
    assert (now_watched["user"], now_watched["availability"]) == ("carol", "offline")
    assert now_watched["via"] == "distribution_group"
    await sockets.connect(carol)
    [online] = await receive(alice_ws)
    assert (online["user"], online["availability"]) == ("carol", "available")

    # A sync removes bob: alice stops watching him.
    await database_sync_to_async(research.user_set.remove)(bob)
    await database_sync_to_async(distribution_groups.contact_groups_follow)(person_ids=[bob.pk])
    [dropped] = await receive(alice_ws)
    assert dropped == {"type": "presence.unsubscribed", "users": ["bob"]}
    await sockets.close(bob_ws)
    await assert_silent(alice_ws)
