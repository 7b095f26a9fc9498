"""The compliance console's pages refuse everyone outside the Compliance group, and audit it
(no browser needed)."""

import pytest
from django.contrib.auth.models import Group

from archiving.models import AuditEntry

pytestmark = pytest.mark.django_db

PAGES = [
    "/console/",
    "/console/cases/",
    "/console/cases/7/",
    "/console/exports/",
    "/console/audit/",
    "/console/health/",
    "/console/presence/",
]


@pytest.mark.parametrize("path", PAGES)
def test_a_refused_console_page_is_audited_with_actor_path_and_reason(client, alice, path):
    client.force_login(alice)

    response = client.get(path, {"q": "merger"})

    assert response.status_code == 403
    assert list(AuditEntry.objects.values("actor_username", "action", "target", "parameters")) == [
        {
            "actor_username": "alice",
            "action": "access.refused",
            "target": path,
            "parameters": {"method": "GET", "reason": "not_compliance_officer"},
        }
    ]


def test_a_signed_out_visitor_is_sent_to_sign_in_without_an_audit_entry(client):
    response = client.get("/console/")

    assert response.status_code == 302
    assert not AuditEntry.objects.exists()


def test_an_officer_opens_the_console_without_a_refusal(client, make_person):
    officer = make_person("cora")
    officer.groups.add(Group.objects.get(name="Compliance"))
    client.force_login(officer)

    response = client.get("/console/")

    assert response.status_code == 200
    assert not AuditEntry.objects.filter(action="access.refused").exists()


def test_the_usage_page_is_for_administrators_and_officers(client, alice, make_person):
    admin = make_person("ada", is_staff=True)
    officer = make_person("cora")
    officer.groups.add(Group.objects.get(name="Compliance"))

    client.force_login(alice)
    refused = client.get("/console/usage/")
    assert refused.status_code == 403
    assert b"Administrators and compliance officers only" in refused.content
    assert list(AuditEntry.objects.values_list("actor_username", "action", "target")) == [
        ("alice", "access.refused", "/console/usage/")
    ]
    for person in (admin, officer):
        client.force_login(person)
        assert client.get("/console/usage/").status_code == 200
    assert AuditEntry.objects.count() == 1
