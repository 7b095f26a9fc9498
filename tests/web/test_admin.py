"""Django admin for administrators: every model an admin manages is listed with filters and
search, and the bulk actions (apply an archiving policy, verify the archive) work."""

import pytest
from django.contrib import admin
from django.test import Client

from archiving.models import ArchivingPolicy, ArchivingPolicyAssignment, AuditEntry
from chat import services as chat

ADMIN_PAGES = [
    "directory/person",
    "directory/department",
    "directory/federationpartner",
    "auth/group",
    "presence/custompresencestate",
    "archiving/archivingpolicy",
    "archiving/archivingpolicyassignment",
    "archiving/retentionpolicy",
    "chat/category",
    "chat/conversation",
]


@pytest.fixture
def admin_client(make_person):
    person = make_person("root", display_name="Root Admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(person)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_each_admin_list_opens_with_search(admin_client, page):
    response = admin_client.get(f"/admin/{page}/", {"q": "x"})
    assert response.status_code == 200


def test_managed_models_have_filters_and_search():
    from django.apps import apps

    for label in ADMIN_PAGES:
        model = apps.get_model(label.replace("/", "."))
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, label
        assert model_admin.list_display != ("__str__",), label
    category_admin = admin.site._registry[apps.get_model("chat.category")]
    assert category_admin.filter_horizontal


@pytest.mark.django_db
def test_apply_an_archiving_policy_to_selected_people(admin_client, alice, bob, carol):
    policy = ArchivingPolicy.objects.create(name="Traders: everything", is_critical=True)
    selected = {"action": "apply_archiving_policy", "_selected_action": [alice.pk, bob.pk]}

    asking = admin_client.post("/admin/directory/person/", selected)
    assert asking.status_code == 200
    assert b"Apply policy" in asking.content
    assert not ArchivingPolicyAssignment.objects.exists()

    done = admin_client.post(
        "/admin/directory/person/", {**selected, "apply": "1", "policy": policy.pk}, follow=True
    )

    assert done.status_code == 200
    assert "now applies to 2 people" in done.content.decode()
    assigned = ArchivingPolicyAssignment.objects.values_list("person__username", "policy")
    assert sorted(assigned) == [("alice", policy.pk), ("bob", policy.pk)]
    assert AuditEntry.objects.filter(action="policy.change").count() == 2


@pytest.mark.django_db
def test_verify_archive_action_shows_the_result(admin_client, alice, bob):
    conversation, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    chat.message_post(sender=alice, conversation_id=conversation.pk, body="hello", client_id="")
    policy = ArchivingPolicy.objects.create(name="Default")

    response = admin_client.post(
        "/admin/archiving/archivingpolicy/",
        {"action": "verify_archive", "_selected_action": [policy.pk]},
        follow=True,
    )

    text = response.content.decode()
    assert "Archive verified:" in text
    assert "all intact" in text
    assert AuditEntry.objects.filter(action="archive.verify", actor_username="root").exists()
    listing = admin_client.get("/admin/archiving/archivingpolicy/").content.decode()
    assert "delete_selected" not in listing


@pytest.mark.django_db
def test_rebuild_search_index_action_queues_every_record(admin_client, alice, bob):
    from archiving.models import ArchiveIndexOutbox, ArchiveRecord

    conversation, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    chat.message_post(sender=alice, conversation_id=conversation.pk, body="hello", client_id="")
    policy = ArchivingPolicy.objects.create(name="Default")
    ArchiveIndexOutbox.objects.all().delete()

    response = admin_client.post(
        "/admin/archiving/archivingpolicy/",
        {"action": "rebuild_search_index", "_selected_action": [policy.pk]},
        follow=True,
    )

    records = ArchiveRecord.objects.count()
    assert records > 0
    assert f"{records} records and 1 messages (history search) queued" in (
        response.content.decode()
    )
    queued = ArchiveIndexOutbox.objects
    assert queued.filter(record_id__isnull=False).count() == records
    assert queued.filter(message_id__isnull=False).count() == 1
    assert AuditEntry.objects.filter(action="search.reindex", actor_username="root").exists()
