from datetime import timedelta

import pytest
from django.utils import timezone

from presence import services
from presence.models import PresenceLog
from presence.selectors import availability_at

pytestmark = pytest.mark.django_db


def test_every_availability_change_is_logged_with_its_reason(alice):
    endpoint = services.endpoint_open(person=alice, device="laptop")
    services.presence_set(person=alice, availability="busy")
    services.presence_set(person=alice, note="only a note")  # no availability change
    services.endpoint_close(endpoint_key=endpoint.key)

    log = list(
        PresenceLog.objects.filter(person=alice)
        .order_by("id")
        .values_list("from_availability", "to_availability", "reason")
    )
    assert log == [
        ("offline", "available", "connect"),
        ("available", "busy", "manual"),
        ("busy", "offline", "disconnect"),
    ]


def test_availability_at_answers_was_this_person_online_then(alice):
    before = timezone.now()
    endpoint = services.endpoint_open(person=alice)
    during = timezone.now()
    services.endpoint_close(endpoint_key=endpoint.key)
    after = timezone.now() + timedelta(seconds=1)

    assert availability_at(person=alice, at=before) == "offline"
    assert availability_at(person=alice, at=during) == "available"
    assert availability_at(person=alice, at=after) == "offline"


@pytest.mark.django_db(transaction=True)
def test_privacy_mode_hides_me_from_default_watchers_but_not_from_chosen_contacts(
    alice, bob, carol
):
    from presence.selectors import presence_for_watcher_many

    services.contact_add(owner=alice, username="bob", relationship="colleagues")
    services.endpoint_open(person=alice)

    services.presence_set(person=alice, is_privacy_mode=True, note="in Paris")

    bob_key, bob_view = presence_for_watcher_many(people=[alice], watcher=bob)[0]
    carol_key, carol_view = presence_for_watcher_many(people=[alice], watcher=carol)[0]
    assert (bob_key, bob_view["availability"], bob_view["note"]) == (
        "colleagues",
        "available",
        "in Paris",
    )
    assert (carol_key, carol_view["availability"]) == ("default-colleagues", "offline")
    assert "note" not in carol_view


@pytest.mark.parametrize(
    "changes",
    [{"availability": 0}, {"availability": False}, {"note": 0}, {"activity": []}],
)
def test_values_that_are_not_text_are_refused_not_taken_as_clearing(alice, changes):
    from directory.exceptions import InvalidInput

    services.presence_set(person=alice, availability="busy", note="kept")

    with pytest.raises(InvalidInput):
        services.presence_set(person=alice, **changes)

    alice.presence.refresh_from_db()
    assert (alice.presence.manual_availability, alice.presence.note) == ("busy", "kept")


def test_clearing_a_custom_state_clears_the_availability_it_set(alice):
    from presence.models import CustomPresenceState

    home = CustomPresenceState.objects.create(label="Working from home", colour_class="busy")
    services.presence_set(person=alice, custom_state=home.pk)

    services.presence_set(person=alice, custom_state=None)

    alice.presence.refresh_from_db()
    assert (alice.presence.manual_availability, alice.presence.custom_state) == ("", None)


def test_going_idle_is_announced_even_before_away(
    alice, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from presence import realtime

    settings.PARLEY_IDLE_INACTIVE_SECONDS = 0  # inactive at once, away only after 300 s more
    announced = []
    monkeypatch.setattr(
        realtime,
        "presence_changed",
        lambda **kwargs: announced.append(kwargs["projections"]["default-colleagues"]),
    )
    endpoint = services.endpoint_open(person=alice)

    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_idle(endpoint_key=endpoint.key, is_idle=True)

    assert [(a["availability"], a["is_idle"]) for a in announced] == [("available", True)]
    alice.presence.refresh_from_db()
    assert alice.presence.published_is_idle is True


def test_the_beat_sweep_task_expires_endpoints_of_a_dead_process(alice, settings):
    from datetime import timedelta as delta

    from presence.models import Endpoint
    from presence.tasks import presence_sweep

    endpoint = services.endpoint_open(person=alice)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        last_seen_at=timezone.now() - delta(seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS + 1)
    )

    presence_sweep.delay()

    assert not Endpoint.objects.exists()
    alice.presence.refresh_from_db()
    assert alice.presence.published_availability == "offline"


@pytest.fixture
def officer(make_person):
    from django.contrib.auth.models import Group

    person = make_person("olga")
    person.groups.add(Group.objects.get(name="Compliance"))
    return person


def test_compliance_officer_reads_a_presence_log_and_it_is_audited(alice, officer, api_client_for):
    from archiving.models import AuditEntry

    start = timezone.now() - timedelta(seconds=1)
    endpoint = services.endpoint_open(person=alice, device="laptop")
    services.presence_set(person=alice, availability="busy")
    services.endpoint_close(endpoint_key=endpoint.key)
    end = timezone.now() + timedelta(seconds=1)

    response = api_client_for(officer).get(
        "/api/v1/archive/presence-log/",
        {"username": "alice", "start": start.isoformat(), "end": end.isoformat()},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["availability_at_start"] == "offline"
    assert [(e["from"], e["to"], e["reason"]) for e in body["entries"]] == [
        ("offline", "available", "connect"),
        ("available", "busy", "manual"),
        ("busy", "offline", "disconnect"),
    ]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target, entry.result_count) == (
        officer,
        "presence_log.view",
        "person alice",
        3,
    )
    assert entry.parameters["username"] == "alice"


@pytest.mark.parametrize("who", ["employee", "admin"])
def test_presence_log_is_refused_to_everyone_outside_compliance(
    who, alice, make_person, api_client_for
):
    from archiving.models import AuditEntry

    caller = make_person("admin2", is_staff=True, is_superuser=True) if who == "admin" else alice
    response = api_client_for(caller).get(
        "/api/v1/archive/presence-log/",
        {"username": "alice", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_compliance_officer"
    # the refusal is audited, without what was asked for
    assert list(AuditEntry.objects.values_list("actor_username", "action", "target")) == [
        (caller.username, "access.refused", "/api/v1/archive/presence-log/")
    ]


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}, 400, "username"),
        ({"username": "alice", "start": "yesterday", "end": "2026-01-02T00:00:00Z"}, 400, "ISO"),
        (
            {"username": "alice", "start": "2026-01-03T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
            400,
            "after end",
        ),
        (
            {"username": "nobody", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
            404,
            "nobody",
        ),
    ],
)
def test_presence_log_bad_requests_are_refused_and_not_audited(
    params, status, detail, alice, officer, api_client_for
):
    from archiving.models import AuditEntry

    response = api_client_for(officer).get("/api/v1/archive/presence-log/", params)

    assert response.status_code == status
    assert detail in response.json()["error"]["detail"]
    assert AuditEntry.objects.count() == 0


def test_presence_log_needs_a_sign_in(client):
    response = client.get("/api/v1/archive/presence-log/", {"username": "alice"})
    assert response.status_code == 401
