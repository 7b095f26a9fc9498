import pytest
from django.test import Client

from archiving import holds
from archiving.audit import audit_append
from archiving.models import (
    ArchivingPolicy,
    AuditAction,
    AuditEntry,
    RetentionPolicy,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for():
    def client_for(person):
        person.is_staff = True
        person.save()
        client = Client()
        client.force_login(person)
        return client

    return client_for


@pytest.fixture
def superuser(make_person):
    person = make_person("root")
    person.is_superuser = True
    person.save()
    return person


def test_a_retention_policy_saved_in_admin_is_audited_with_its_dry_run(
    superuser, admin_client_for, bob
):
    client = admin_client_for(superuser)

    response = client.post(
        "/admin/archiving/retentionpolicy/add/",
        {"scope": "person", "person": bob.pk, "conversation_id": "", "days": 90, "is_active": "on"},
    )

    assert response.status_code == 302
    policy = RetentionPolicy.objects.get()
    (entry,) = AuditEntry.objects.filter(action=AuditAction.RETENTION_CHANGE)
    assert (entry.actor_id, entry.target) == (superuser.pk, f"retention policy {policy.pk}")
    assert entry.parameters["policy"] == {
        "id": policy.pk,
        "scope": "person",
        "person": "bob",
        "conversation": None,
        "days": 90,
        "is_active": True,
    }
    assert entry.parameters["dry_run"]["records"] == 0

    changed = client.post(
        f"/admin/archiving/retentionpolicy/{policy.pk}/change/", {"days": 30, "is_active": "on"}
    )
    deleted = client.post(f"/admin/archiving/retentionpolicy/{policy.pk}/delete/", {"post": "yes"})

    assert (changed.status_code, deleted.status_code) == (302, 302)
    operations = [
        e.parameters["operation"]
        for e in AuditEntry.objects.filter(action=AuditAction.RETENTION_CHANGE).order_by("pk")
    ]
    assert operations == ["create", "update", "delete"]
    assert not RetentionPolicy.objects.exists()


def test_a_bad_retention_policy_in_admin_shows_the_services_message(superuser, admin_client_for):
    response = admin_client_for(superuser).post(
        "/admin/archiving/retentionpolicy/add/",
        {"scope": "global", "person": "", "conversation_id": "", "days": 99999},
    )

    assert response.status_code == 200
    assert "days must be a whole number from 1 to 36500." in response.content.decode()
    assert not AuditEntry.objects.exists()


def test_archiving_policy_changes_in_admin_are_audited(superuser, admin_client_for):
    client = admin_client_for(superuser)
    policy = ArchivingPolicy.objects.get(is_global=True)

    response = client.post(
        f"/admin/archiving/archivingpolicy/{policy.pk}/change/",
        {"name": policy.name, "is_global": "on", "archive_internal": "on", "is_critical": "on"},
    )

    assert response.status_code == 302
    (entry,) = AuditEntry.objects.filter(action=AuditAction.POLICY_CHANGE)
    assert entry.actor_id == superuser.pk
    assert entry.parameters == {
        "operation": "update",
        "previous": {
            "name": policy.name,
            "is_global": True,
            "archive_internal": True,
            "archive_external": True,
            "is_critical": False,
        },
        "policy": {
            "name": policy.name,
            "is_global": True,
            "archive_internal": True,
            "archive_external": False,
            "is_critical": True,
        },
    }


def test_the_audit_trail_is_read_only_and_for_officers_in_admin(
    superuser, officer, admin_client_for
):
    entry = audit_append(actor=officer, action=AuditAction.SEARCH, parameters={"query": "x"})
    as_admin = admin_client_for(superuser)
    as_officer = admin_client_for(officer)

    assert as_admin.get("/admin/archiving/auditentry/").status_code == 403
    assert as_officer.get("/admin/archiving/auditentry/").status_code == 200
    assert as_officer.get(f"/admin/archiving/auditentry/{entry.pk}/delete/").status_code == 403
    assert as_officer.post(f"/admin/archiving/auditentry/{entry.pk}/change/", {}).status_code == 403
    assert as_officer.get("/admin/archiving/auditentry/add/").status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk, parameters={"query": "x"}).exists()
    views = AuditEntry.objects.filter(action=AuditAction.AUDIT_VIEW)
    assert [(v.actor_id, v.parameters) for v in views] == [(officer.pk, {"via": "admin"})]


def test_cases_in_admin_are_for_officers_only(superuser, officer, admin_client_for):
    case = holds.case_create(actor=officer, name="Falcon")

    assert admin_client_for(superuser).get("/admin/archiving/case/").status_code == 403
    page = admin_client_for(officer).get(f"/admin/archiving/case/{case.pk}/change/")
    assert page.status_code == 200
    assert AuditEntry.objects.filter(action=AuditAction.CASE_VIEW).count() == 1
