"""Supervision fixtures: reviewers in the Supervision group, policies, posts that get judged."""

import pytest
from django.contrib.auth.models import Group

from chat import services as chat
from supervision import services


@pytest.fixture
def supervision_group(db):
    return Group.objects.get_or_create(name="Supervision")[0]


@pytest.fixture
def make_reviewer(make_person, supervision_group):
    def make(username: str, **fields):
        person = make_person(username, **fields)
        person.groups.add(supervision_group)
        return person

    return make


@pytest.fixture
def sam(make_reviewer):
    return make_reviewer("sam", display_name="Sam Reviewer")


@pytest.fixture
def make_policy(sam):
    def make(**fields):
        fields.setdefault("name", "Trading desk")
        fields.setdefault("reviewers", [sam.username])
        return services.policy_create(actor=fields.pop("actor", sam), **fields)

    return make


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """Post a message as the write path does, running what it queues after commit."""

    def send(*, sender, conversation, body: str, client_id: str | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            message, _ = chat.message_post(
                sender=sender,
                conversation_id=conversation.pk,
                body=body,
                client_id=client_id or f"c-{body[:20]}-{sender.pk}",
            )
        return message

    return send


@pytest.fixture
def direct(alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    return conversation
