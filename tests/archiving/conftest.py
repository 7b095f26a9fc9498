"""Archive fixtures: records captured at chosen days, compliance officers."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group

from archiving.models import ArchiveEvent
from archiving.services import capture

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    """Return the moment n days after T0."""
    return T0 + timedelta(days=n)


@pytest.fixture
def archive_record(db):
    """Capture an archive record at day n (the chain and participants as capture keeps them)."""

    def record(
        *,
        conversation_id: int,
        actor,
        at: float,
        body: str = "",
        participants=(),
        kind: str = "direct",
        event: str = ArchiveEvent.MESSAGE_POSTED,
    ):
        people = list(participants) or [actor]
        return capture(
            conversation_id=conversation_id,
            conversation_kind=kind,
            is_external=False,
            participant_ids=[p.pk for p in people],
            event=event,
            actor=actor,
            occurred_at=day(at),
            body=body,
        )

    return record


@pytest.fixture(autouse=True)
def export_root(settings, tmp_path):
    settings.PARLEY_EXPORT_ROOT = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PARLEY_SIGNING_KEY_PATH = tmp_path / "keys" / "archive-ed25519.pem"
    settings.PARLEY_ANCHOR_DIR = tmp_path / "anchors"
    return settings.PARLEY_EXPORT_ROOT


@pytest.fixture
def officer(make_person):
    person = make_person("cora", display_name="Cora Officer", email="cora@contoso.test")
    person.groups.add(Group.objects.get(name="Compliance"))
    return person


@pytest.fixture
def officer_client(officer, api_client_for):
    return api_client_for(officer)


@pytest.fixture
def export(officer_client, django_capture_on_commit_callbacks):
    """POST an export and run its task (in-process) after commit; return the response."""

    def start(payload: dict, client=None):
        with django_capture_on_commit_callbacks(execute=True):
            return (client or officer_client).post(
                "/api/v1/archive/exports/", payload, format="json"
            )

    return start
