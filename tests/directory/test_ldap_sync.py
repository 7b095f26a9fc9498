"""Directory sync and LDAP bind sign-in against a real OpenLDAP slapd on loopback."""

import io

import ldap3
import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.test import APIClient

from directory import services
from directory.models import DirectoryChange, Person
from directory.sync import directory_sync
from tests.conftest import PASSWORD
from tests.directory.slapd import (
    GROUPS,
    PEOPLE,
    ROOT_DN,
    ROOT_PASSWORD,
    group_ldif,
    ldap_settings,
    person_ldif,
    slapd_or_skip,
    slapd_start,
)

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"parley-test-photo" * 4 + b"\xff\xd9"


@pytest.fixture
def directory(settings):
    slapd_or_skip()
    server = slapd_start()
    ldap_settings(settings, server)
    server.add(
        "\n".join(
            [
                person_ldif(
                    "carla",
                    name="Carla Boss",
                    password="carla-pass",
                    mail="carla@bank.test",
                    title="Head of Research",
                    ou="Research",
                    company="Bank",
                ),
                person_ldif(
                    "dave",
                    name="Dave Analyst",
                    password="dave-pass",
                    mail="dave@bank.test",
                    title="Analyst",
                    ou="Research",
                    company="Bank",
                    phone="+44 20 1111",
                    mobile="+44 77 2222",
                    manager="carla",
                ),
                person_ldif(
                    "erin",
                    name="Erin Trader",
                    password="erin-pass",
                    mail="erin@bank.test",
                    title="Trader",
                    ou="Trading",
                    company="Bank",
                ),
                group_ldif("research", ["carla", "dave"]),
                group_ldif("parley-compliance", ["carla"]),
            ]
        )
    )
    yield server
    server.stop()


def _modify(server, dn: str, **changes) -> None:
    with ldap3.Connection(server.url, user=ROOT_DN, password=ROOT_PASSWORD, auto_bind=True) as c:
        c.modify(dn, {name: [(ldap3.MODIFY_REPLACE, value)] for name, value in changes.items()})
        assert c.result["result"] == 0, c.result


def _delete(server, dn: str) -> None:
    with ldap3.Connection(server.url, user=ROOT_DN, password=ROOT_PASSWORD, auto_bind=True) as c:
        c.delete(dn)
        assert c.result["result"] == 0, c.result


def test_directory_sync_creates_people_with_their_fields_groups_and_manager(directory):
    _modify(directory, f"uid=dave,{PEOPLE}", jpegPhoto=[JPEG])

    report = directory_sync()

    dave = Person.objects.select_related("department", "manager").get(username="dave")
    assert (dave.display_name, dave.first_name, dave.last_name) == (
        "Dave Analyst",
        "Dave",
        "Analyst",
    )
    assert (dave.email, dave.title, dave.company) == ("dave@bank.test", "Analyst", "Bank")
    assert (dave.work_phone, dave.mobile_phone) == ("+44 20 1111", "+44 77 2222")
    assert dave.department.name == "Research"
    assert dave.manager.username == "carla"
    assert dave.directory_dn == f"uid=dave,{PEOPLE}"
    assert dave.photo.read() == JPEG
    assert not dave.has_usable_password()  # the directory checks passwords
    assert sorted(
        Group.objects.get(name="research").user_set.values_list("username", flat=True)
    ) == [
        "carla",
        "dave",
    ]
    # A mapped group drives a Parley role.
    assert list(
        Group.objects.get(name="Compliance").user_set.values_list("username", flat=True)
    ) == ["carla"]
    assert report.count("person.create") == 3
    assert DirectoryChange.objects.filter(action="person.create").count() == 3
    assert DirectoryChange.objects.filter(run=report.run).count() == len(report.changes)


def test_directory_sync_dry_run_prints_what_would_change_and_changes_nothing(directory):
    out = io.StringIO()

    call_command("directory_sync", "--dry-run", stdout=out)

    text = out.getvalue()
    assert "would person.create dave" in text
    assert "would group.members research (added: ['carla', 'dave']" in text
    assert "directory sync would make" in text
    assert not Person.objects.filter(username="dave").exists()
    assert not Group.objects.filter(name="research").exists()
    assert not DirectoryChange.objects.exists()


def test_directory_sync_updates_changed_people_and_memberships(directory):
    directory_sync()
    _modify(directory, f"uid=dave,{PEOPLE}", title=["Senior Analyst"], ou=["Trading"])
    _modify(directory, f"cn=research,{GROUPS}", member=[f"uid=carla,{PEOPLE}"])

    out = io.StringIO()
    call_command("directory_sync", stdout=out)

    dave = Person.objects.get(username="dave")
    assert dave.title == "Senior Analyst"
    assert dave.department.name == "Trading"
    assert list(Group.objects.get(name="research").user_set.values_list("username", flat=True)) == [
        "carla"
    ]
    update = DirectoryChange.objects.get(action="person.update", target="dave")
    assert update.changes["title"] == ["Analyst", "Senior Analyst"]
    assert update.changes["department"] == ["Research", "Trading"]
    members = DirectoryChange.objects.filter(action="group.members", target="research").latest("pk")
    assert members.changes == {"added": [], "removed": ["dave"]}
    assert "person.update dave" in out.getvalue()
    # A second run with nothing new changes nothing.
    assert directory_sync().changes == []


def test_directory_sync_deactivates_disabled_and_removed_people_whose_tokens_stop(directory):
    directory_sync()
    dave, erin = Person.objects.get(username="dave"), Person.objects.get(username="erin")
    _, dave_token = services.token_create(person=dave)
    _, erin_token = services.token_create(person=erin)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {dave_token}")
    assert client.get("/api/v1/me/").status_code == 200
    _modify(directory, f"uid=dave,{PEOPLE}", employeeType=["disabled"])
    _delete(directory, f"uid=erin,{PEOPLE}")

    report = directory_sync()

    assert not Person.objects.get(username="dave").is_active
    assert not Person.objects.get(username="erin").is_active
    assert client.get("/api/v1/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {erin_token}")
    assert client.get("/api/v1/me/").status_code == 401
    reasons = {c.target: c.changes["reason"] for c in report.changes if c.action.endswith("ate")}
    assert reasons == {"dave": "disabled in the directory", "erin": "removed from the directory"}
    # Re-enabled in the directory: active again.
    _modify(directory, f"uid=dave,{PEOPLE}", employeeType=["staff"])
    directory_sync()
    assert Person.objects.get(username="dave").is_active


def test_directory_sync_leaves_local_accounts_alone(directory, make_person):
    admin = make_person("breakglass", is_superuser=True, is_staff=True)
    local_group = Group.objects.create(name="Local")
    local_group.user_set.add(admin)

    directory_sync()

    admin.refresh_from_db()
    assert admin.is_active
    assert admin.directory_dn == ""
    assert list(local_group.user_set.all()) == [admin]


def test_ldap_bind_signs_in_with_the_directory_password_and_refuses_a_wrong_one(directory):
    # Not synced yet: the first sign-in creates the person from their entry.
    person = authenticate(username="dave", password="dave-pass")
    assert person is not None
    assert person.username == "dave"
    assert person.title == "Analyst"
    assert authenticate(username="dave", password="wrong-pass") is None
    assert authenticate(username="dave", password="") is None
    assert authenticate(username="nobody", password="dave-pass") is None

    client = APIClient()
    ok = client.post(
        "/api/v1/auth/token/", {"username": "erin", "password": "erin-pass"}, format="json"
    )
    refused = client.post(
        "/api/v1/auth/token/", {"username": "erin", "password": "nope"}, format="json"
    )
    assert ok.status_code == 201
    assert refused.status_code == 401
    # The web password form signs in through the directory too.
    assert (
        client.post("/login/", {"username": "carla", "password": "carla-pass"}).status_code == 302
    )
    assert client.get("/").status_code == 200


def test_ldap_bind_refuses_a_disabled_account(directory):
    _modify(directory, f"uid=dave,{PEOPLE}", employeeType=["disabled"])

    assert authenticate(username="dave", password="dave-pass") is None
    assert not Person.objects.filter(username="dave", is_active=True).exists()


def test_local_passwords_off_refuse_everyone_but_break_glass_admins(settings, make_person):
    make_person("alice")
    make_person("root", is_superuser=True, is_staff=True)
    settings.PARLEY_LOCAL_PASSWORDS = False
    settings.PARLEY_BREAK_GLASS_ADMINS = ["root"]

    assert authenticate(username="alice", password=PASSWORD) is None
    assert authenticate(username="root", password=PASSWORD).username == "root"
    refused = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert refused.status_code == 401


def test_the_scheduled_task_syncs_and_does_nothing_while_the_directory_is_off(directory, settings):
    from directory import tasks

    assert tasks.directory_sync() == len(DirectoryChange.objects.all())
    assert Person.objects.filter(username="dave", is_active=True).exists()
    settings.PARLEY_LDAP_URL = ""
    assert tasks.directory_sync() == 0


def test_an_unreachable_directory_changes_nothing(directory, settings):
    directory_sync()
    directory.stop()

    with pytest.raises(Exception, match="Cannot read the directory"):
        directory_sync()
    out = io.StringIO()
    with pytest.raises(Exception, match="Cannot read the directory"):
        call_command("directory_sync", stdout=out)
    assert Person.objects.filter(directory_dn__gt="", is_active=True).count() == 3


def test_an_sso_session_of_a_deactivated_person_no_longer_signs_them_in(settings, make_person):
    from directory.backends import OidcBackend

    settings.OIDC_OP_TOKEN_ENDPOINT = "https://idp.bank.test/token"
    settings.OIDC_OP_USER_ENDPOINT = "https://idp.bank.test/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = "https://idp.bank.test/jwks"
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "parley", "secret"
    leaver = make_person("leaver")
    backend = OidcBackend()
    assert backend.get_user(leaver.pk) == leaver

    services.person_deactivate(person=leaver)

    assert backend.get_user(leaver.pk) is None
