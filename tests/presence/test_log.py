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
