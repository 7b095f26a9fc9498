"""The demo data starts with contacts and room categories, and seeding twice adds nothing."""

import pytest
from django.core.management import call_command

from chat.models import Category, Conversation
from presence.models import Contact

pytestmark = pytest.mark.django_db


def test_the_demo_starts_with_contacts_and_categorised_rooms(settings):
    call_command("seed_demo")
    call_command("seed_demo")

    alice_contacts = Contact.objects.filter(owner__username="alice")
    assert sorted(alice_contacts.values_list("person__username", "group")) == [
        ("bob", "Desk"),
        ("carol", "Desk"),
        ("dave", "Research"),
    ]
    assert sorted(Category.objects.values_list("name", flat=True)) == ["Research", "Trading"]
    rooms = Conversation.objects.filter(kind="room").order_by("title")
    assert [(room.title, room.category.name) for room in rooms] == [
        ("Research notes", "Research"),
        ("Trading desk", "Trading"),
    ]
