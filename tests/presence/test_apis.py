"""Presence and contacts over REST (DESIGN.md section 9), and how availability is aggregated
across a person's endpoints (section 4)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from directory.exceptions import NotFound
from presence import selectors, services
from presence.models import Contact, CustomPresenceState, Endpoint, PresenceState

pytestmark = pytest.mark.django_db

MANUAL = ["available", "busy", "do-not-disturb", "be-right-back", "away", "off-work"]
MANUAL_TEXT = ", ".join([*MANUAL, "appear-offline"])


def own(**changes) -> dict:
    """Alice's presence as she sees it herself (conftest's alice has only a display name)."""
    return {
        "user": "alice",
        "display_name": "Alice Martin",
        "title": "",
        "email": "",
        "company": "",
        "photo": None,
        "availability": "offline",
        "is_idle": False,
        "note": "",
        "out_of_office_note": "",
        "location": "",
        "work_phone": "",
        "time_zone": "",
        "mobile_phone": "",
        "home_phone": "",
        "manual_availability": "",
        "is_privacy_mode": False,
        **changes,
    }


def as_colleague(**changes) -> dict:
    """Alice's presence as a colleague (bob, by default) sees it."""
    seen = own(**changes)
    for key in ("mobile_phone", "home_phone", "manual_availability", "is_privacy_mode"):
        seen.pop(key)
    return seen


def state_of(person) -> dict | None:
    """The stored presence row, without its timestamp."""
    row = PresenceState.objects.filter(person=person).values().first()
    if row is not None:
        row.pop("updated_at")
    return row


def seen_by(watcher, person) -> dict:
    return selectors.presence_for_watcher(person=person, watcher=watcher)


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def alice_api(alice, api_client_for):
    return api_client_for(alice)


@pytest.fixture
def bob_api(bob, api_client_for):
    return api_client_for(bob)


@pytest.fixture
def online(alice):
    """Alice connected on one endpoint."""
    return services.endpoint_open(person=alice, device="laptop")


@pytest.fixture
def working_from_home(db):
    return CustomPresenceState.objects.create(
        label="Working from home",
        colour_class="busy",
        translations={"fr": "En télétravail"},
        order=1,
    )


# -- PUT /api/v1/presence/ --------------------------------------------------------------------


def test_put_manual_availability_wins_and_watchers_see_it(alice, bob, online, alice_api, bob_api):
    response = alice_api.put("/api/v1/presence/", {"availability": "busy"}, format="json")

    assert response.status_code == 200
    assert response.json() == own(availability="busy", manual_availability="busy")
    assert bob_api.get("/api/v1/presence/alice/").json() == as_colleague(availability="busy")
    assert state_of(alice)["manual_availability"] == "busy"


@pytest.mark.parametrize("availability", MANUAL)
def test_put_accepts_every_built_in_availability(alice, bob, online, alice_api, availability):
    response = alice_api.put("/api/v1/presence/", {"availability": availability}, format="json")

    assert response.status_code == 200
    assert response.json()["availability"] == availability
    assert seen_by(bob, alice)["availability"] == availability


def test_put_manual_availability_while_disconnected_applies_once_an_endpoint_connects(
    alice, bob, alice_api
):
    response = alice_api.put("/api/v1/presence/", {"availability": "busy"}, format="json")

    assert response.status_code == 200
    assert response.json() == own(availability="offline", manual_availability="busy")
    assert seen_by(bob, alice)["availability"] == "offline"

    services.endpoint_open(person=alice)

    assert seen_by(bob, alice)["availability"] == "busy"


def test_put_empty_availability_returns_to_the_machine_state(alice, bob, online, alice_api):
    alice_api.put("/api/v1/presence/", {"availability": "busy"}, format="json")

    response = alice_api.put("/api/v1/presence/", {"availability": ""}, format="json")

    assert response.status_code == 200
    assert response.json() == own(availability="available")
    assert seen_by(bob, alice)["availability"] == "available"


def test_custom_state_created_in_admin_is_offered_and_shown_with_its_colour_class(
    alice, bob, online, make_person, alice_api, bob_api
):
    # given an administrator creates a custom state in Django admin
    admin = make_person("admin", is_staff=True, is_superuser=True)
    admin_client = Client()
    admin_client.force_login(admin)
    created = admin_client.post(
        "/admin/presence/custompresencestate/add/",
        {
            "label": "Working from home",
            "colour_class": "busy",
            "translations": '{"fr": "En télétravail"}',
            "is_active": "on",
            "order": "0",
        },
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    state = CustomPresenceState.objects.get()
    custom = {
        "id": state.pk,
        "label": "Working from home",
        "colour_class": "busy",
        "translations": {"fr": "En télétravail"},
    }
    assert alice_api.get("/api/v1/presence/states/").json()["custom"] == [custom]

    # when alice chooses it
    response = alice_api.put("/api/v1/presence/", {"custom_state": state.pk}, format="json")

    # then her availability is its colour class and watchers see the state itself
    assert response.status_code == 200
    assert response.json() == own(
        availability="busy", manual_availability="busy", custom_state=custom
    )
    assert bob_api.get("/api/v1/presence/alice/").json() == as_colleague(
        availability="busy", custom_state=custom
    )


def test_choosing_a_built_in_availability_drops_the_custom_state(
    alice, online, alice_api, working_from_home
):
    alice_api.put("/api/v1/presence/", {"custom_state": working_from_home.pk}, format="json")

    response = alice_api.put("/api/v1/presence/", {"availability": "away"}, format="json")

    assert response.json() == own(availability="away", manual_availability="away")
    assert state_of(alice)["custom_state_id"] is None


def test_expires_in_minutes_sets_until_and_the_sweep_returns_to_the_machine_state(
    alice, bob, online, alice_api
):
    # given alice is do-not-disturb for an hour
    before = timezone.now()
    response = alice_api.put(
        "/api/v1/presence/",
        {"availability": "do-not-disturb", "expires_in_minutes": 60},
        format="json",
    )
    after = timezone.now()

    expires_at = PresenceState.objects.get(person=alice).manual_expires_at
    assert response.status_code == 200
    assert before + timedelta(minutes=60) <= expires_at <= after + timedelta(minutes=60)
    assert response.json() == own(
        availability="do-not-disturb", manual_availability="do-not-disturb", until=iso(expires_at)
    )
    assert seen_by(bob, alice) == as_colleague(availability="do-not-disturb", until=iso(expires_at))

    # when the hour has passed and the sweep runs
    PresenceState.objects.filter(person=alice).update(
        manual_expires_at=timezone.now() - timedelta(seconds=1)
    )
    checked = services.presence_sweep()

    # then the manual state is gone and the machine state shows
    assert checked == 1
    assert seen_by(bob, alice) == as_colleague(availability="available")
    assert alice_api.get("/api/v1/presence/").json() == own(availability="available")
    state = state_of(alice)
    assert (state["manual_availability"], state["manual_expires_at"], state["custom_state_id"]) == (
        "",
        None,
        None,
    )
    assert state["published_availability"] == "available"


def test_an_expired_custom_state_is_cleared_by_the_sweep(
    alice, bob, online, alice_api, working_from_home
):
    alice_api.put(
        "/api/v1/presence/",
        {"custom_state": working_from_home.pk, "expires_in_minutes": 30},
        format="json",
    )
    PresenceState.objects.filter(person=alice).update(
        manual_expires_at=timezone.now() - timedelta(seconds=1)
    )

    services.presence_sweep()

    assert seen_by(bob, alice) == as_colleague(availability="available")
    assert state_of(alice)["custom_state_id"] is None


def test_activity_is_shown_while_online_and_cleared_with_empty(alice, bob, online, alice_api):
    response = alice_api.put("/api/v1/presence/", {"activity": "in-a-meeting"}, format="json")

    assert response.status_code == 200
    assert response.json() == own(availability="available", activity="in-a-meeting")
    assert seen_by(bob, alice) == as_colleague(availability="available", activity="in-a-meeting")

    cleared = alice_api.put("/api/v1/presence/", {"activity": ""}, format="json")

    assert cleared.json() == own(availability="available")


def test_put_changes_only_the_fields_given(alice, bob, online, alice_api):
    alice_api.put(
        "/api/v1/presence/",
        {"availability": "busy", "location": "Paris", "out_of_office_note": "Away in May"},
        format="json",
    )

    response = alice_api.put("/api/v1/presence/", {"note": "Lunch at noon"}, format="json")

    assert response.status_code == 200
    assert response.json() == own(
        availability="busy",
        manual_availability="busy",
        note="Lunch at noon",
        location="Paris",
        out_of_office_note="Away in May",
    )
    assert seen_by(bob, alice)["note"] == "Lunch at noon"


def test_appear_offline_shows_others_offline_and_the_owner_her_choice(
    alice, bob, online, alice_api, bob_api
):
    response = alice_api.put(
        "/api/v1/presence/",
        {"availability": "appear-offline", "activity": "in-a-call", "note": "hidden"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == own(
        availability="offline", manual_availability="appear-offline", note="hidden"
    )
    assert bob_api.get("/api/v1/presence/alice/").json() == as_colleague(
        availability="offline", note="hidden"
    )


def test_appear_offline_with_an_idle_endpoint_looks_exactly_like_being_disconnected(
    alice, bob, online, alice_api
):
    # given what bob sees of alice with no endpoint at all
    services.endpoint_close(endpoint_key=online.key)
    disconnected = seen_by(bob, alice)
    # when alice is connected again, appears offline, and her endpoint has long been idle
    endpoint = services.endpoint_open(person=alice)
    alice_api.put("/api/v1/presence/", {"availability": "appear-offline"}, format="json")
    services.endpoint_idle(endpoint_key=endpoint.key, is_idle=True)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        idle_since=timezone.now() - timedelta(minutes=30)
    )

    # then nothing in what bob sees tells that she is connected
    assert seen_by(bob, alice) == disconnected == as_colleague(availability="offline")


# -- refusals ---------------------------------------------------------------------------------

TOO_LARGE = 30 * 24 * 60 + 1

REFUSALS = {
    "unknown availability": (
        {"availability": "sleepy"},
        400,
        "invalid_availability",
        f"availability must be one of {MANUAL_TEXT}, or empty to clear.",
    ),
    "offline is not a manual state": (
        {"availability": "offline"},
        400,
        "invalid_availability",
        f"availability must be one of {MANUAL_TEXT}, or empty to clear.",
    ),
    "unknown field, even beside a good one": (
        {"note": "new", "mood": "happy"},
        400,
        "invalid",
        "Unknown field(s) mood; presence takes availability, custom_state, expires_in_minutes, "
        "activity, note, out_of_office_note, location, is_privacy_mode.",
    ),
    "a body that is not an object": (
        ["busy"],
        400,
        "invalid",
        "The body must be a JSON object.",
    ),
    "custom state that does not exist": (
        {"custom_state": 987654},
        404,
        "custom_state_not_found",
        "No custom state 987654.",
    ),
    "custom state that is inactive": (
        {"custom_state": "INACTIVE"},
        404,
        "custom_state_not_found",
        "No custom state INACTIVE.",
    ),
    "custom state that is not an id": (
        {"custom_state": "abc"},
        400,
        "invalid",
        "custom_state must be the id of a custom state, or null to clear it.",
    ),
    "custom state as a boolean": (
        {"custom_state": True},
        400,
        "invalid",
        "custom_state must be the id of a custom state, or null to clear it.",
    ),
    "unknown activity": (
        {"activity": "sleeping"},
        400,
        "invalid_activity",
        "activity must be one of in-a-meeting, in-a-call, out-of-office, or empty.",
    ),
    "expires_in_minutes 0": (
        {"availability": "busy", "expires_in_minutes": 0},
        400,
        "invalid",
        "expires_in_minutes must be a whole number of minutes >= 1.",
    ),
    "expires_in_minutes negative": (
        {"availability": "busy", "expires_in_minutes": -5},
        400,
        "invalid",
        "expires_in_minutes must be a whole number of minutes >= 1.",
    ),
    "expires_in_minutes as text": (
        {"availability": "busy", "expires_in_minutes": "60"},
        400,
        "invalid",
        "expires_in_minutes must be a whole number of minutes >= 1.",
    ),
    "expires_in_minutes as a fraction": (
        {"availability": "busy", "expires_in_minutes": 1.5},
        400,
        "invalid",
        "expires_in_minutes must be a whole number of minutes >= 1.",
    ),
    "expires_in_minutes as a boolean": (
        {"availability": "busy", "expires_in_minutes": True},
        400,
        "invalid",
        "expires_in_minutes must be a whole number of minutes >= 1.",
    ),
    "expires_in_minutes beyond 30 days": (
        {"availability": "busy", "expires_in_minutes": TOO_LARGE},
        400,
        "invalid",
        "expires_in_minutes is limited to 30 days.",
    ),
    "expires_in_minutes without a manual state": (
        {"expires_in_minutes": 30},
        400,
        "nothing_to_expire",
        "expires_in_minutes needs a manual availability to expire.",
    ),
    "expires_in_minutes while clearing the manual state": (
        {"availability": "", "expires_in_minutes": 30},
        400,
        "nothing_to_expire",
        "expires_in_minutes needs a manual availability to expire.",
    ),
    "note too long": (
        {"note": "x" * 501},
        400,
        "invalid",
        "note must be text of at most 500 characters.",
    ),
    "note that is not text": (
        {"note": 42},
        400,
        "invalid",
        "note must be text of at most 500 characters.",
    ),
    "out-of-office note too long": (
        {"out_of_office_note": "x" * 501},
        400,
        "invalid",
        "out_of_office_note must be text of at most 500 characters.",
    ),
    "location too long": (
        {"location": "x" * 201},
        400,
        "invalid",
        "location must be text of at most 200 characters.",
    ),
    "is_privacy_mode as text": (
        {"is_privacy_mode": "true"},
        400,
        "invalid",
        "is_privacy_mode must be true or false.",
    ),
    "is_privacy_mode as a number": (
        {"is_privacy_mode": 1},
        400,
        "invalid",
        "is_privacy_mode must be true or false.",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_put_refuses_bad_input_clearly_and_changes_nothing(
    alice, bob, online, alice_api, case, django_capture_on_commit_callbacks
):
    # given alice has a note and a location, and an inactive custom state exists
    services.presence_set(person=alice, note="before", location="Lyon")
    inactive = CustomPresenceState.objects.create(
        label="Retired state", colour_class="busy", is_active=False
    )
    body, status, code, detail = REFUSALS[case]
    if body == {"custom_state": "INACTIVE"}:
        body, detail = {"custom_state": inactive.pk}, detail.replace("INACTIVE", str(inactive.pk))
    before, seen_before = state_of(alice), seen_by(bob, alice)

    # when she sends the bad input
    with django_capture_on_commit_callbacks() as sent:
        response = alice_api.put("/api/v1/presence/", body, format="json")

    # then a clear error, nothing written, nothing announced
    assert response.status_code == status
    assert response.json() == {"error": {"code": code, "detail": detail}}
    assert state_of(alice) == before
    assert seen_by(bob, alice) == seen_before
    assert sent == []


def test_presence_endpoints_need_a_signed_in_person(alice):
    anonymous = APIClient()

    responses = [
        anonymous.get("/api/v1/presence/states/"),
        anonymous.get("/api/v1/presence/alice/"),
        anonymous.put("/api/v1/presence/", {"availability": "busy"}, format="json"),
        anonymous.get("/api/v1/contacts/"),
    ]

    assert [r.status_code for r in responses] == [401, 401, 401, 401]
    assert {r.json()["error"]["code"] for r in responses} == {"not_authenticated"}
    assert state_of(alice) is None


# -- GET /api/v1/presence/states/ -------------------------------------------------------------


def test_states_lists_the_built_ins_and_only_active_custom_states_in_order(
    alice_api, working_from_home
):
    first = CustomPresenceState.objects.create(label="Focus time", colour_class="do-not-disturb")
    CustomPresenceState.objects.create(label="Retired", colour_class="available", is_active=False)

    response = alice_api.get("/api/v1/presence/states/")

    assert response.status_code == 200
    assert response.json() == {
        "availability": [*MANUAL, "appear-offline"],
        "activities": ["in-a-meeting", "in-a-call", "out-of-office"],
        "custom": [
            {
                "id": first.pk,
                "label": "Focus time",
                "colour_class": "do-not-disturb",
                "translations": {},
            },
            {
                "id": working_from_home.pk,
                "label": "Working from home",
                "colour_class": "busy",
                "translations": {"fr": "En télétravail"},
            },
        ],
    }


# -- contacts ---------------------------------------------------------------------------------


def bob_as_alice_sees_him(**changes) -> dict:
    return {
        "user": "bob",
        "display_name": "Bob Chen",
        "title": "",
        "email": "",
        "company": "",
        "photo": None,
        "availability": "offline",
        "is_idle": False,
        "note": "",
        "out_of_office_note": "",
        "location": "",
        "work_phone": "",
        "time_zone": "",
        **changes,
    }


def test_adding_a_contact_defaults_to_colleagues_and_shows_their_presence(
    alice, bob, alice_api, django_capture_on_commit_callbacks
):
    services.endpoint_open(person=bob)

    with django_capture_on_commit_callbacks() as sent:
        response = alice_api.post("/api/v1/contacts/", {"username": "bob"}, format="json")

    assert response.status_code == 201
    assert response.json() == {
        "username": "bob",
        "display_name": "Bob Chen",
        "group": "",
        "relationship": "colleagues",
        "presence": bob_as_alice_sees_him(availability="available"),
    }
    contact = Contact.objects.get()
    assert (contact.owner, contact.person, contact.group, contact.relationship) == (
        alice,
        bob,
        "",
        "colleagues",
    )
    assert len(sent) == 1  # bob's sockets are moved to the level alice grants him


def test_adding_an_external_person_defaults_to_external(alice, make_person, alice_api):
    make_person("partner", display_name="Pat Partner", is_external=True)

    response = alice_api.post("/api/v1/contacts/", {"username": "partner"}, format="json")

    assert response.status_code == 201
    assert response.json()["relationship"] == "external"
    assert Contact.objects.get().relationship == "external"


def test_adding_a_contact_with_a_group_and_a_relationship(alice, bob, alice_api):
    response = alice_api.post(
        "/api/v1/contacts/",
        {"username": "bob", "group": "Treasury", "relationship": "workgroup"},
        format="json",
    )

    assert response.status_code == 201
    assert (response.json()["group"], response.json()["relationship"]) == ("Treasury", "workgroup")
    assert list(Contact.objects.values_list("group", "relationship")) == [("Treasury", "workgroup")]


def test_contact_list_is_ordered_by_group_and_shows_presence_as_each_contact_grants_me(
    alice, bob, carol, make_person, alice_api
):
    # given bob grants alice workgroup, carol blocks alice; both are online
    dave = make_person("dave", display_name="Dave Eng")
    bob.mobile_phone = "+44 7700 900001"
    bob.save(update_fields=["mobile_phone"])
    services.contact_add(owner=bob, username="alice", relationship="workgroup")
    services.contact_add(owner=carol, username="alice", relationship="blocked")
    services.endpoint_open(person=bob)
    services.endpoint_open(person=carol)
    # and alice's own list: the relationships she grants them
    services.contact_add(
        owner=alice, username="carol", group="Friends", relationship="friends_family"
    )
    services.contact_add(owner=alice, username="bob", group="Friends", relationship="blocked")
    services.contact_add(owner=alice, username=dave.username, group="Audit")

    response = alice_api.get("/api/v1/contacts/")

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "username": "dave",
                "display_name": "Dave Eng",
                "group": "Audit",
                "relationship": "colleagues",
                "presence": {
                    **bob_as_alice_sees_him(),
                    "user": "dave",
                    "display_name": "Dave Eng",
                },
            },
            {
                "username": "bob",
                "display_name": "Bob Chen",
                "group": "Friends",
                "relationship": "blocked",
                "presence": bob_as_alice_sees_him(
                    availability="available",
                    mobile_phone="+44 7700 900001",
                    can_interrupt_do_not_disturb=True,
                ),
            },
            {
                "username": "carol",
                "display_name": "Carol Diaz",
                "group": "Friends",
                "relationship": "friends_family",
                "presence": {
                    "user": "carol",
                    "display_name": "Carol Diaz",
                    "email": "",
                    "availability": "offline",
                },
            },
        ]
    }


def test_contact_list_costs_the_same_queries_however_many_contacts(alice, make_person, alice_api):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice_api.get("/api/v1/contacts/").status_code == 200
        return len(queries)

    queries_for_list()  # the token's last use is recorded once a minute: not part of the cost

    for n in range(2):
        services.contact_add(owner=alice, username=make_person(f"first{n}").username)
    with_two = queries_for_list()
    for n in range(8):
        person = make_person(f"more{n}")
        services.endpoint_open(person=person)
        services.contact_add(owner=alice, username=person.username)

    # token, contacts, levels granted to me, their states, their endpoints
    assert queries_for_list() == with_two == 5


def test_adding_a_contact_twice_is_a_409_and_keeps_the_first(
    alice, bob, alice_api, django_capture_on_commit_callbacks
):
    alice_api.post("/api/v1/contacts/", {"username": "bob", "group": "Team"}, format="json")

    with django_capture_on_commit_callbacks() as sent:
        response = alice_api.post(
            "/api/v1/contacts/", {"username": "bob", "relationship": "blocked"}, format="json"
        )

    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "already_contact", "detail": "bob is already in your contacts."}
    }
    assert list(Contact.objects.values_list("group", "relationship")) == [("Team", "colleagues")]
    assert sent == []


CONTACT_REFUSALS = {
    "unknown person": (
        {"username": "ghost"},
        404,
        {"code": "person_not_found", "detail": "No active person named ghost."},
    ),
    "deactivated person": (
        {"username": "gone"},
        404,
        {"code": "person_not_found", "detail": "No active person named gone."},
    ),
    "myself": (
        {"username": "alice"},
        400,
        {"code": "invalid", "detail": "You cannot add yourself to your contacts."},
    ),
    "invalid relationship": (
        {"username": "bob", "relationship": "enemy"},
        400,
        {
            "code": "invalid_relationship",
            "detail": "relationship must be one of friends_family, workgroup, colleagues, "
            "external, blocked.",
        },
    ),
    "no username": (
        {"group": "Team"},
        400,
        {"code": "invalid", "detail": "username: This field is required."},
    ),
    "group too long": (
        {"username": "bob", "group": "g" * 101},
        400,
        {"code": "invalid", "detail": "group: Ensure this field has no more than 100 characters."},
    ),
}


@pytest.mark.parametrize("case", list(CONTACT_REFUSALS))
def test_adding_a_contact_refuses_bad_input_and_adds_nothing(
    alice, bob, make_person, alice_api, case, django_capture_on_commit_callbacks
):
    gone = make_person("gone")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    body, status, error = CONTACT_REFUSALS[case]

    with django_capture_on_commit_callbacks() as sent:
        response = alice_api.post("/api/v1/contacts/", body, format="json")

    assert response.status_code == status
    assert response.json() == {"error": error}
    assert not Contact.objects.exists()
    assert sent == []


def test_patching_a_contact_changes_group_and_relationship(
    alice, bob, alice_api, django_capture_on_commit_callbacks
):
    services.contact_add(owner=alice, username="bob", group="Team")

    with django_capture_on_commit_callbacks() as sent:
        response = alice_api.patch(
            "/api/v1/contacts/bob/",
            {"group": "Close team", "relationship": "workgroup"},
            format="json",
        )

    assert response.status_code == 200
    assert response.json() == {
        "username": "bob",
        "display_name": "Bob Chen",
        "group": "Close team",
        "relationship": "workgroup",
        "presence": bob_as_alice_sees_him(),
    }
    assert list(Contact.objects.values_list("group", "relationship")) == [
        ("Close team", "workgroup")
    ]
    assert len(sent) == 1  # bob's sockets move to the new level
    assert seen_by(bob, alice)["can_interrupt_do_not_disturb"] is True


def test_patching_only_the_group_keeps_the_relationship(alice, bob, alice_api):
    services.contact_add(owner=alice, username="bob", relationship="friends_family")

    response = alice_api.patch("/api/v1/contacts/bob/", {"group": "Family"}, format="json")

    assert response.status_code == 200
    assert list(Contact.objects.values_list("group", "relationship")) == [
        ("Family", "friends_family")
    ]


def test_patching_an_invalid_relationship_is_a_400_and_changes_nothing(
    alice, bob, alice_api, django_capture_on_commit_callbacks
):
    services.contact_add(owner=alice, username="bob", group="Team", relationship="workgroup")

    with django_capture_on_commit_callbacks() as sent:
        response = alice_api.patch(
            "/api/v1/contacts/bob/", {"group": "Other", "relationship": "enemy"}, format="json"
        )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_relationship"
    assert list(Contact.objects.values_list("group", "relationship")) == [("Team", "workgroup")]
    assert sent == []


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_changing_or_removing_someone_not_in_my_contacts_is_a_404(
    alice, bob, carol, alice_api, method, django_capture_on_commit_callbacks
):
    # given bob has alice in HIS contacts, which is not alice's entry
    services.contact_add(owner=bob, username="alice")

    with django_capture_on_commit_callbacks() as sent:
        response = getattr(alice_api, method)(
            "/api/v1/contacts/bob/", {"relationship": "blocked"}, format="json"
        )

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "contact_not_found", "detail": "bob is not in your contacts."}
    }
    assert list(
        Contact.objects.values_list("owner__username", "person__username", "relationship")
    ) == [("bob", "alice", "colleagues")]
    assert sent == []


def test_removing_a_contact_returns_them_to_the_default_level(
    alice, bob, alice_api, django_capture_on_commit_callbacks
):
    services.contact_add(owner=alice, username="bob", relationship="blocked")
    services.endpoint_open(person=alice)
    assert seen_by(bob, alice)["availability"] == "offline"

    with django_capture_on_commit_callbacks() as sent:
        response = alice_api.delete("/api/v1/contacts/bob/")

    assert response.status_code == 204
    assert not Contact.objects.exists()
    assert seen_by(bob, alice) == as_colleague(availability="available")
    assert len(sent) == 1
    assert alice_api.get("/api/v1/contacts/").json() == {"results": []}


# -- availability aggregated across endpoints -------------------------------------------------


def idle_for(endpoint, seconds: float) -> None:
    """Pretend the endpoint reported idle this many seconds ago."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        idle_since=timezone.now() - timedelta(seconds=seconds)
    )


def availability_and_idle(watcher, person) -> tuple[str, bool]:
    seen = seen_by(watcher, person)
    return seen["availability"], seen["is_idle"]


def test_a_person_without_an_endpoint_is_offline(alice, bob):
    assert availability_and_idle(bob, alice) == ("offline", False)


def test_an_open_endpoint_makes_the_person_available(alice, bob):
    services.endpoint_open(person=alice, device="phone")

    assert availability_and_idle(bob, alice) == ("available", False)
    assert state_of(alice)["published_availability"] == "available"


def test_closing_the_last_endpoint_makes_the_person_offline(alice, bob):
    first = services.endpoint_open(person=alice)
    second = services.endpoint_open(person=alice)

    services.endpoint_close(endpoint_key=first.key)
    assert availability_and_idle(bob, alice) == ("available", False)
    services.endpoint_close(endpoint_key=second.key)

    assert availability_and_idle(bob, alice) == ("offline", False)
    assert state_of(alice)["published_availability"] == "offline"


def test_a_manual_state_wins_over_the_machine_state_even_when_idle(alice, bob, settings):
    endpoint = services.endpoint_open(person=alice)
    services.presence_set(person=alice, availability="busy")
    services.endpoint_idle(endpoint_key=endpoint.key, is_idle=True)
    away_after = settings.PARLEY_IDLE_INACTIVE_SECONDS + settings.PARLEY_IDLE_AWAY_SECONDS

    idle_for(endpoint, away_after + 60)

    assert availability_and_idle(bob, alice) == ("busy", True)


def test_an_endpoint_just_reported_idle_is_not_yet_idle(alice, bob):
    endpoint = services.endpoint_open(person=alice)

    services.endpoint_idle(endpoint_key=endpoint.key, is_idle=True)

    assert Endpoint.objects.get().idle_since is not None
    assert availability_and_idle(bob, alice) == ("available", False)


def test_an_idle_endpoint_turns_inactive_then_away_after_the_default_timers(alice, bob):
    endpoint = services.endpoint_open(person=alice)
    services.endpoint_idle(endpoint_key=endpoint.key, is_idle=True)

    idle_for(endpoint, 5 * 60 - 5)
    assert availability_and_idle(bob, alice) == ("available", False)
    idle_for(endpoint, 5 * 60 + 5)
    assert availability_and_idle(bob, alice) == ("available", True)
    idle_for(endpoint, 10 * 60 - 5)
    assert availability_and_idle(bob, alice) == ("available", True)
    idle_for(endpoint, 10 * 60 + 5)
    assert availability_and_idle(bob, alice) == ("away", True)


def test_the_idle_timers_are_settings(alice, bob, settings):
    settings.PARLEY_IDLE_INACTIVE_SECONDS = 1
    settings.PARLEY_IDLE_AWAY_SECONDS = 1
    endpoint = services.endpoint_open(person=alice)
    services.endpoint_idle(endpoint_key=endpoint.key, is_idle=True)

    idle_for(endpoint, 1.5)
    assert availability_and_idle(bob, alice) == ("available", True)
    idle_for(endpoint, 2.5)
    assert availability_and_idle(bob, alice) == ("away", True)


def test_the_sweep_announces_away_once_the_timers_pass(alice, bob):
    endpoint = services.endpoint_open(person=alice)
    services.endpoint_idle(endpoint_key=endpoint.key, is_idle=True)
    idle_for(endpoint, 10 * 60 + 5)

    services.presence_sweep()

    assert state_of(alice)["published_availability"] == "away"


def test_an_endpoint_back_from_idle_is_available_again(alice, bob):
    endpoint = services.endpoint_open(person=alice)
    services.endpoint_idle(endpoint_key=endpoint.key, is_idle=True)
    idle_for(endpoint, 10 * 60 + 5)
    assert availability_and_idle(bob, alice) == ("away", True)

    services.endpoint_idle(endpoint_key=endpoint.key, is_idle=False)

    assert Endpoint.objects.get().idle_since is None
    assert availability_and_idle(bob, alice) == ("available", False)


def test_one_active_endpoint_keeps_the_person_available_beside_an_idle_one(alice, bob):
    idle = services.endpoint_open(person=alice, device="desktop")
    services.endpoint_open(person=alice, device="phone")
    services.endpoint_idle(endpoint_key=idle.key, is_idle=True)

    idle_for(idle, 10 * 60 + 5)

    assert availability_and_idle(bob, alice) == ("available", False)


def test_two_idle_endpoints_make_the_person_away_only_when_both_are(alice, bob):
    first = services.endpoint_open(person=alice)
    second = services.endpoint_open(person=alice)
    for endpoint in (first, second):
        services.endpoint_idle(endpoint_key=endpoint.key, is_idle=True)

    idle_for(first, 10 * 60 + 5)
    idle_for(second, 5 * 60 + 5)
    assert availability_and_idle(bob, alice) == ("available", True)
    idle_for(second, 10 * 60 + 5)
    assert availability_and_idle(bob, alice) == ("away", True)


def test_idle_on_an_unknown_endpoint_is_not_found(alice):
    with pytest.raises(NotFound) as refused:
        services.endpoint_idle(endpoint_key="no-such-key", is_idle=True)

    assert refused.value.code == "endpoint_not_found"


def test_an_endpoint_not_seen_within_the_expiry_is_offline_and_swept(alice, bob, settings):
    # given alice's only endpoint was last refreshed longer ago than the expiry
    endpoint = services.endpoint_open(person=alice)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        last_seen_at=timezone.now() - timedelta(seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS + 1)
    )

    # then she is offline already, and the sweep deletes the endpoint and announces it
    assert availability_and_idle(bob, alice) == ("offline", False)
    assert services.presence_sweep() == 1
    assert not Endpoint.objects.exists()
    assert state_of(alice)["published_availability"] == "offline"


def test_the_heartbeat_keeps_a_live_process_endpoints_and_the_sweep_drops_a_dead_ones(
    alice, bob, carol, settings
):
    # given alice is connected to a live process and carol to one that died
    settings.PARLEY_SERVER_NAME = "web-1:100"
    services.endpoint_open(person=alice)
    settings.PARLEY_SERVER_NAME = "web-2:200"
    services.endpoint_open(person=carol)
    stale = timezone.now() - timedelta(seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS + 1)
    Endpoint.objects.update(last_seen_at=stale)

    # when the live process beats and the sweep runs
    assert services.endpoints_heartbeat(server="web-1:100") == 1
    services.presence_sweep()

    # then only the dead process's endpoint is gone
    assert list(Endpoint.objects.values_list("person__username", "server")) == [
        ("alice", "web-1:100")
    ]
    assert availability_and_idle(bob, alice) == ("available", False)
    assert availability_and_idle(bob, carol) == ("offline", False)
    assert state_of(carol)["published_availability"] == "offline"
