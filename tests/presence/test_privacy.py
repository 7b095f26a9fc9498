"""The privacy matrix of DESIGN.md section 4: what each relationship level sees of a person.

The person watched (alice) chooses the level of each watcher (bob). Every (level, field) pair of
the design table is its own case, read through the REST API, the directory search (its entries'
own fields as well as their presence) and the selector that every other read path (frames,
member lists, search results) uses.
"""

from hashlib import sha256

import pytest

from directory.models import Department
from presence import selectors, services
from presence.models import Contact

pytestmark = pytest.mark.django_db

LEVELS = ["friends_family", "workgroup", "colleagues", "external", "blocked"]

ALICE = {
    "user": "alice",
    "display_name": "Alice Martin",
    "title": "Head of Treasury",
    "email": "alice@example.com",
    "company": "Parley Ltd",
    "photo": "/api/v1/users/alice/photo/?v=" + sha256(b"photos/alice.png").hexdigest()[:12],
    "availability": "available",
    "is_idle": False,
    "note": "Back from Lisbon",
    "out_of_office_note": "Out until Monday",
    "location": "Paris, 3rd floor",
    "work_phone": "+33 1 11 11 11 11",
    "time_zone": "Europe/Paris",
    "department": "Treasury",
    "mobile_phone": "+33 6 22 22 22 22",
    "home_phone": "+33 1 33 33 33 33",
    "can_interrupt_do_not_disturb": True,
}


def shown(keys: list[str]) -> dict:
    return {key: ALICE[key] for key in keys}


# The person's time zone goes with their location (contact cards show their local time).
NOTE_LOCATION = ["note", "out_of_office_note", "location", "time_zone"]
IDENTITY = ["title", "email", "company", "photo"]

# field of the design table -> (the keys that carry it, what each level sees of them).
# A withheld field is left out of the projection, never sent empty.
MATRIX = {
    "availability": (
        ["availability"],
        {
            "friends_family": {"availability": "available"},
            "workgroup": {"availability": "available"},
            "colleagues": {"availability": "available"},
            "external": {"availability": "available"},
            "blocked": {"availability": "offline"},
        },
    ),
    "note_and_location": (
        NOTE_LOCATION,
        {
            "friends_family": shown(NOTE_LOCATION),
            "workgroup": shown(NOTE_LOCATION),
            "colleagues": shown(NOTE_LOCATION),
            "external": {},
            "blocked": {},
        },
    ),
    "work_phone": (
        ["work_phone"],
        {
            "friends_family": shown(["work_phone"]),
            "workgroup": shown(["work_phone"]),
            "colleagues": shown(["work_phone"]),
            "external": {},
            "blocked": {},
        },
    ),
    # not in the table: shown with the work phone (Lync shows external contacts only name,
    # title, e-mail, company and picture)
    "department": (
        ["department"],
        {
            "friends_family": shown(["department"]),
            "workgroup": shown(["department"]),
            "colleagues": shown(["department"]),
            "external": {},
            "blocked": {},
        },
    ),
    "mobile_phone": (
        ["mobile_phone"],
        {
            "friends_family": shown(["mobile_phone"]),
            "workgroup": shown(["mobile_phone"]),
            "colleagues": {},
            "external": {},
            "blocked": {},
        },
    ),
    "home_phone": (
        ["home_phone"],
        {
            "friends_family": shown(["home_phone"]),
            "workgroup": {},
            "colleagues": {},
            "external": {},
            "blocked": {},
        },
    ),
    "can_interrupt_do_not_disturb": (
        ["can_interrupt_do_not_disturb"],
        {
            "friends_family": {},
            "workgroup": {"can_interrupt_do_not_disturb": True},
            "colleagues": {},
            "external": {},
            "blocked": {},
        },
    ),
    "title_email_company_photo": (
        IDENTITY,
        {
            "friends_family": shown(IDENTITY),
            "workgroup": shown(IDENTITY),
            "colleagues": shown(IDENTITY),
            "external": shown(IDENTITY),
            "blocked": shown(["email"]),
        },
    ),
    "display_name": (
        ["user", "display_name"],
        {level: shown(["user", "display_name"]) for level in LEVELS},
    ),
}

# The whole projection of each level: nothing beyond the table leaks.
BASE = ["user", "display_name", *IDENTITY, "availability", "is_idle"]
FULL = {
    "friends_family": shown(
        [*BASE, *NOTE_LOCATION, "work_phone", "department", "mobile_phone", "home_phone"]
    ),
    "workgroup": shown(
        [
            *BASE,
            *NOTE_LOCATION,
            "work_phone",
            "department",
            "mobile_phone",
            "can_interrupt_do_not_disturb",
        ]
    ),
    "colleagues": shown([*BASE, *NOTE_LOCATION, "work_phone", "department"]),
    "external": shown(BASE),
    "blocked": {
        "user": "alice",
        "display_name": "Alice Martin",
        "email": "alice@example.com",
        "availability": "offline",
    },
}
OFFLINE_SEEN_BY_BLOCKED = FULL["blocked"]


@pytest.fixture
def alice(make_person):
    """Alice with every field of the table filled in, online on one endpoint."""
    person = make_person(
        "alice",
        display_name="Alice Martin",
        title="Head of Treasury",
        email="alice@example.com",
        company="Parley Ltd",
        work_phone="+33 1 11 11 11 11",
        mobile_phone="+33 6 22 22 22 22",
        department=Department.objects.create(name="Treasury"),
    )
    person.home_phone = "+33 1 33 33 33 33"
    person.photo.name = "photos/alice.png"
    person.time_zone = "Europe/Paris"
    person.save(update_fields=["home_phone", "photo", "time_zone"])
    services.presence_set(
        person=person,
        note="Back from Lisbon",
        out_of_office_note="Out until Monday",
        location="Paris, 3rd floor",
    )
    services.endpoint_open(person=person, device="laptop")
    return person


def read_presence(read: str, *, person, watcher, api_client_for) -> dict:
    """What the watcher sees of the person through one read path."""
    if read == "selector":
        return selectors.presence_for_watcher(person=person, watcher=watcher)
    if read == "directory":
        return read_directory(person=person, watcher=watcher, api_client_for=api_client_for)
    response = api_client_for(watcher).get(f"/api/v1/presence/{person.username}/")
    assert response.status_code == 200, response.content
    return response.json()


def read_directory(*, person, watcher, api_client_for) -> dict:
    """What the watcher sees of the person in a directory search: the entry's own fields and
    its presence together (a field withheld from one but shown in the other counts as shown)."""
    response = api_client_for(watcher).get("/api/v1/users/", {"q": person.username})
    assert response.status_code == 200, response.content
    entry = next(e for e in response.json()["results"] if e["username"] == person.username)
    assert entry["is_external"] is person.is_external
    own_fields = {k: entry[k] for k in entry.keys() - {"username", "is_external", "presence"}}
    return {**entry["presence"], **own_fields}


READS = ["rest", "directory", "selector"]


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("field", list(MATRIX))
@pytest.mark.parametrize("level", LEVELS)
def test_each_level_sees_exactly_the_fields_the_table_grants(
    alice, bob, api_client_for, level, field, read
):
    # given alice grants bob this level
    services.contact_add(owner=alice, username="bob", relationship=level)
    keys, expected_by_level = MATRIX[field]

    # when bob reads alice's presence
    seen = read_presence(read, person=alice, watcher=bob, api_client_for=api_client_for)

    # then exactly the keys the table grants are present, with alice's values
    assert {key: seen[key] for key in keys if key in seen} == expected_by_level[level]


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("level", LEVELS)
def test_each_level_sees_nothing_beyond_the_table(alice, bob, api_client_for, level, read):
    services.contact_add(owner=alice, username="bob", relationship=level)

    seen = read_presence(read, person=alice, watcher=bob, api_client_for=api_client_for)

    assert seen == FULL[level]


@pytest.mark.parametrize("read", READS)
def test_blocked_watcher_sees_offline_while_the_person_is_busy_in_a_call(
    alice, bob, api_client_for, read
):
    # given alice is online, busy, in a call, until a time, and blocks bob
    services.presence_set(
        person=alice, availability="busy", expires_in_minutes=60, activity="in-a-call"
    )
    services.contact_add(owner=alice, username="bob", relationship="blocked")
    assert selectors.presence_for_watcher(person=alice, watcher=alice)["availability"] == "busy"

    seen = read_presence(read, person=alice, watcher=bob, api_client_for=api_client_for)

    assert seen == OFFLINE_SEEN_BY_BLOCKED


# -- defaults: no contact entry ----------------------------------------------------------------


@pytest.mark.parametrize("read", READS)
def test_an_internal_watcher_without_a_contact_entry_is_a_colleague(
    alice, bob, api_client_for, read
):
    assert not Contact.objects.exists()

    seen = read_presence(read, person=alice, watcher=bob, api_client_for=api_client_for)

    assert seen == FULL["colleagues"]


@pytest.mark.parametrize("read", READS)
def test_an_external_watcher_without_a_contact_entry_is_external(
    alice, make_person, api_client_for, read
):
    partner = make_person("partner", is_external=True)

    seen = read_presence(read, person=alice, watcher=partner, api_client_for=api_client_for)

    assert seen == FULL["external"]


@pytest.mark.parametrize("read", READS)
def test_an_external_person_shows_internal_watchers_the_external_projection(
    make_person, bob, api_client_for, read
):
    # given an external person with a note and a work phone, online
    partner = make_person(
        "partner", display_name="Pat Partner", email="pat@partner.example", is_external=True
    )
    partner.work_phone = "+1 555 0100"
    partner.save(update_fields=["work_phone"])
    services.presence_set(person=partner, note="visiting")
    services.endpoint_open(person=partner)

    seen = read_presence(read, person=partner, watcher=bob, api_client_for=api_client_for)

    assert seen == {
        "user": "partner",
        "display_name": "Pat Partner",
        "title": "",
        "email": "pat@partner.example",
        "company": "",
        "photo": None,
        "availability": "available",
        "is_idle": False,
    }


@pytest.mark.parametrize("read", READS)
def test_the_watchers_own_contact_entry_grants_the_watcher_nothing(
    alice, bob, api_client_for, read
):
    # given bob counts alice as friends & family, but alice has no entry for bob
    services.contact_add(owner=bob, username="alice", relationship="friends_family")

    seen = read_presence(read, person=alice, watcher=bob, api_client_for=api_client_for)

    # then bob sees alice as alice's default allows: a colleague
    assert seen == FULL["colleagues"]


@pytest.mark.parametrize("read", READS)
def test_an_explicit_level_overrides_the_external_default(alice, make_person, api_client_for, read):
    partner = make_person("partner", is_external=True)
    services.contact_add(owner=alice, username="partner", relationship="workgroup")

    seen = read_presence(read, person=alice, watcher=partner, api_client_for=api_client_for)

    assert seen == FULL["workgroup"]


# -- privacy mode -----------------------------------------------------------------------------


@pytest.fixture
def alice_in_privacy_mode(alice, api_client_for):
    response = api_client_for(alice).put(
        "/api/v1/presence/", {"is_privacy_mode": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["is_privacy_mode"] is True
    return alice


@pytest.mark.parametrize("read", READS)
def test_privacy_mode_shows_non_contacts_the_blocked_projection(
    alice_in_privacy_mode, bob, api_client_for, read
):
    seen = read_presence(
        read, person=alice_in_privacy_mode, watcher=bob, api_client_for=api_client_for
    )

    assert seen == OFFLINE_SEEN_BY_BLOCKED


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("level", ["friends_family", "workgroup", "colleagues", "external"])
def test_privacy_mode_shows_contacts_their_level(
    alice_in_privacy_mode, bob, api_client_for, level, read
):
    services.contact_add(owner=alice_in_privacy_mode, username="bob", relationship=level)

    seen = read_presence(
        read, person=alice_in_privacy_mode, watcher=bob, api_client_for=api_client_for
    )

    assert seen == FULL[level]


@pytest.mark.parametrize("read", READS)
def test_privacy_mode_off_again_restores_the_default_level(
    alice_in_privacy_mode, bob, api_client_for, read
):
    response = api_client_for(alice_in_privacy_mode).put(
        "/api/v1/presence/", {"is_privacy_mode": False}, format="json"
    )
    assert response.status_code == 200

    seen = read_presence(
        read, person=alice_in_privacy_mode, watcher=bob, api_client_for=api_client_for
    )

    assert seen == FULL["colleagues"]


# -- the owner --------------------------------------------------------------------------------

OWN = {
    **shown([*BASE, *NOTE_LOCATION, "work_phone", "department", "mobile_phone", "home_phone"]),
    "manual_availability": "",
    "is_privacy_mode": False,
}


@pytest.mark.parametrize(
    "read", ["GET /api/v1/presence/alice/", "GET /api/v1/presence/", "selector"]
)
def test_the_owner_sees_everything_of_themselves(alice, api_client_for, read):
    if read == "selector":
        seen = selectors.presence_for_watcher(person=alice, watcher=alice)
    else:
        response = api_client_for(alice).get(read.split(" ")[1])
        assert response.status_code == 200
        seen = response.json()

    assert seen == OWN


def test_the_owner_in_privacy_mode_still_sees_everything_of_themselves(
    alice_in_privacy_mode, api_client_for
):
    response = api_client_for(alice_in_privacy_mode).get("/api/v1/presence/alice/")

    assert response.status_code == 200
    assert response.json() == {**OWN, "is_privacy_mode": True}


def test_presence_of_an_unknown_person_is_a_404(bob, api_client_for):
    response = api_client_for(bob).get("/api/v1/presence/ghost/")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "person_not_found", "detail": "No active person named ghost."}
    }
