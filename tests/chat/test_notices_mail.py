"""Missed-IM e-mail (chat/services/notices.py) against a real SMTP server (aiosmtpd) started
by the test: one digest per person, never twice for the same messages, naming who wrote where
and never what, honouring blocks, walls, do not disturb, opt-out and live connections."""

import email
import email.policy
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.db.models import F

from chat import services
from chat import tasks as chat_tasks
from chat.models import Message, Participant
from chat.services import im_policies, notices
from presence import services as presence
from presence.models import Contact, PresenceState
from tests.conftest import free_port

pytestmark = pytest.mark.django_db

PUBLIC = "https://parley.example.test"


class Inbox:
    """What the SMTP server received, parsed as a mail client would."""

    def __init__(self) -> None:
        self.mails: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.recipients.append(list(envelope.rcpt_tos))
        self.mails.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def take(self) -> list[tuple[list[str], str, str, str]]:
        """Return (recipients, subject, text, html) of each mail received, and forget them."""
        out = []
        for rcpt, mail in zip(self.recipients, self.mails, strict=True):
            text = mail.get_body(preferencelist=("plain",)).get_content()
            html = mail.get_body(preferencelist=("html",)).get_content()
            out.append((rcpt, str(mail["subject"]), text, html))
        self.mails, self.recipients = [], []
        return out


@pytest.fixture
def inbox(settings):
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.DEFAULT_FROM_EMAIL = "Parley <parley@example.test>"
    settings.PARLEY_PUBLIC_URL = PUBLIC
    settings.PARLEY_MISSED_IM_EMAIL_MINUTES = 15
    yield box
    controller.stop()


def _age(minutes: float = 16) -> None:
    """Make every message so many minutes older (connections keep their real times)."""
    Message.objects.update(created_at=F("created_at") - timedelta(minutes=minutes))


def _send() -> int:
    return notices.missed_im_notices_send()


def _post(sender, conversation, body):
    return services.message_post(sender=sender, conversation_id=conversation.pk, body=body)[0]


@pytest.fixture
def people(make_person):
    alice = make_person("alice", display_name="Alice Martin", email="alice@example.test")
    bob = make_person("bob", display_name="Bob Chen", email="bob@example.test")
    carol = make_person("carol", display_name="Carol Diaz", email="carol@example.test")
    dave = make_person("dave", display_name="Dave Evans", email="dave@example.test")
    for online in (alice, bob, dave):
        presence.endpoint_open(person=online)
    return alice, bob, carol, dave


def test_offline_person_gets_one_digest_naming_senders_and_conversations_not_text(inbox, people):
    alice, bob, carol, dave = people
    direct = services.conversation_direct_get_or_create(person=alice, other=carol)[0]
    group, _ = services.conversation_create(
        creator=alice, usernames=["bob", "carol"], title="Deal room"
    )
    blocked = services.conversation_direct_get_or_create(person=dave, other=carol)[0]
    room = services.room_create(creator=alice, title="Announcements", members=[carol])
    Contact.objects.create(owner=carol, person=dave, relationship="blocked")
    _post(alice, direct, "the numbers are in")
    _post(alice, direct, "call me about them")
    _post(bob, group, "term sheet attached")
    _post(dave, blocked, "secret from dave")
    _post(alice, room, "room chatter")
    _age()

    sent = _send()

    assert sent == 1
    [(to, subject, text, html)] = inbox.take()
    assert to == ["carol@example.test"]
    assert subject == "Parley: 3 missed messages from Alice Martin, Bob Chen"
    assert "Hello Carol Diaz," in text
    assert "you received 3 messages in 2 conversations" in text
    assert "- Alice Martin: 2 messages from Alice Martin" in text
    assert f"{PUBLIC}/?conversation={direct.pk}" in text
    assert "- Deal room: 1 message from Bob Chen" in text
    assert f"{PUBLIC}/?conversation={group.pk}" in text
    assert f'<a href="{PUBLIC}/?conversation={group.pk}">Deal room</a>' in html
    for hidden in ("numbers", "call me", "term sheet", "secret", "Dave", "Announcements", "room"):
        assert hidden not in text.replace("Deal room", ""), hidden
        assert hidden not in html.replace("Deal room", ""), hidden

    # dave's message is never announced, and not looked at again either.
    assert Participant.objects.get(person=carol, conversation=blocked).noticed_seq == 1
    # Never again for the same messages ...
    _age()
    assert _send() == 0
    assert inbox.take() == []
    # ... but a new one, once old enough, gets a digest of its own.
    _post(bob, group, "one more thing")
    assert _send() == 0
    _age()
    assert _send() == 1
    [(_, subject, text, _)] = inbox.take()
    assert subject == "Parley: 1 missed message from Bob Chen"
    assert "Alice Martin" not in text


def test_no_digest_for_people_online_read_opted_out_or_not_yet_due(inbox, people):
    alice, _, carol, _ = people
    direct = services.conversation_direct_get_or_create(person=alice, other=carol)[0]
    message = _post(alice, direct, "hello")
    _age(10)

    assert _send() == 0  # not yet 15 minutes old
    _age(6)
    endpoint = presence.endpoint_open(person=carol)
    assert _send() == 0  # online
    presence.endpoint_close(endpoint_key=endpoint.key)
    im_policies.notice_preference_set(person=carol, is_missed_im_email_on=False)
    assert _send() == 0  # opted out
    im_policies.notice_preference_set(person=carol, is_missed_im_email_on=True)
    services.conversation_mark_read(person=carol, conversation_id=direct.pk, seq=message.seq)
    assert _send() == 0  # read

    assert inbox.take() == []


def test_do_not_disturb_holds_the_digest_except_for_workgroup(inbox, people):
    alice, bob, carol, _ = people
    from_alice = services.conversation_direct_get_or_create(person=alice, other=carol)[0]
    from_bob = services.conversation_direct_get_or_create(person=bob, other=carol)[0]
    Contact.objects.create(owner=carol, person=bob, relationship="workgroup")
    PresenceState.objects.update_or_create(
        person=carol, defaults={"manual_availability": "do-not-disturb"}
    )
    _post(alice, from_alice, "colleague")
    _post(bob, from_bob, "workgroup")
    _age()

    assert _send() == 1
    [(_, subject, _, _)] = inbox.take()
    assert subject == "Parley: 1 missed message from Bob Chen"

    # Do not disturb ends: what waited is announced, once.
    PresenceState.objects.filter(person=carol).update(manual_availability="")
    assert _send() == 1
    [(_, subject, _, _)] = inbox.take()
    assert subject == "Parley: 1 missed message from Alice Martin"
    assert Participant.objects.get(person=carol, conversation=from_alice).noticed_seq == 1


def test_group_newcomer_is_not_told_of_messages_before_they_joined(inbox, people):
    alice, bob, _, _ = people
    group, _ = services.conversation_create(creator=alice, usernames=["bob"], title="Old group")
    _post(bob, group, "before carol")
    services.participant_add(actor=alice, conversation_id=group.pk, username="carol")
    _age()

    assert _send() == 0
    _post(bob, group, "after carol")
    _age()
    assert _send() == 1
    [(_, subject, _, _)] = inbox.take()
    assert subject == "Parley: 1 missed message from Bob Chen"


def test_beat_task_sends_through_the_configured_smtp_server(inbox, people, settings):
    alice, _, carol, _ = people
    settings.PARLEY_MISSED_IM_EMAIL_MINUTES = 0
    direct = services.conversation_direct_get_or_create(person=alice, other=carol)[0]
    _post(alice, direct, "hello")

    assert chat_tasks.missed_im_notices_send.apply().get() == 1
    [(to, _, _, _)] = inbox.take()
    assert to == ["carol@example.test"]


def test_nothing_is_sent_while_email_is_not_configured(people, settings, mailoutbox):
    alice, _, carol, _ = people
    settings.EMAIL_HOST = ""
    direct = services.conversation_direct_get_or_create(person=alice, other=carol)[0]
    _post(alice, direct, "hello")
    _age()

    assert _send() == 0
    assert mailoutbox == []
    assert Participant.objects.get(person=carol, conversation=direct).noticed_seq == 0


def test_people_turn_the_digest_off_and_on_through_the_api(carol, api_client_for):
    client = api_client_for(carol)

    assert client.get("/api/v1/me/notices/").json() == {"missed_im_email": True}
    response = client.put("/api/v1/me/notices/", {"missed_im_email": False}, format="json")
    assert response.status_code == 200
    assert client.get("/api/v1/me/notices/").json() == {"missed_im_email": False}
    for bad_value in ("maybe", 0, "true", None):
        bad = client.put("/api/v1/me/notices/", {"missed_im_email": bad_value}, format="json")
        assert bad.status_code == 400, bad_value
        assert bad.json()["error"]["code"] == "invalid"
    assert client.get("/api/v1/me/notices/").json() == {"missed_im_email": False}


def test_the_digest_is_written_in_the_readers_language(inbox, people):
    from directory import services as directory

    alice, _bob, carol, _dave = people
    directory.person_preferences_set(person=carol, language="ko")
    direct = services.conversation_direct_get_or_create(person=alice, other=carol)[0]
    _post(alice, direct, "회의록 보냈습니다")
    _age()

    assert _send() == 1

    [(to, subject, text, html)] = inbox.take()
    assert to == ["carol@example.test"]
    assert subject.strip() == "Parley: Alice Martin 님의 놓친 메시지 1개"
    assert "Carol Diaz 님, 안녕하세요." in text
    assert "오프라인 상태일 때 대화 1개에서 메시지 1개를 받았습니다:" in text
    assert "회의록" not in text  # the digest never quotes a message
    assert "<p>Carol Diaz 님, 안녕하세요.</p>" in html
