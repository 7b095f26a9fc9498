import pytest
from django.contrib.auth.models import Group


@pytest.fixture(autouse=True)
def export_root(settings, tmp_path):
    settings.PARLEY_EXPORT_ROOT = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.PARLEY_EXPORT_ROOT


@pytest.fixture
def officer(make_person):
    person = make_person("olivia", display_name="Olivia Officer", email="olivia@contoso.test")
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
