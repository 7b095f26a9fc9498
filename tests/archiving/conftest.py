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
