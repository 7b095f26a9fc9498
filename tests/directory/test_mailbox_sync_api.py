"""GET|PATCH /api/v1/me/mailbox/: a person's choice of what Parley keeps in their mailbox."""

import pytest
from rest_framework.test import APIClient

from directory.models import MailboxSync

pytestmark = pytest.mark.django_db


@pytest.fixture
def offered(settings):
    settings.PARLEY_EXCHANGE_EWS_URL = "https://mail.contoso.test/EWS/Exchange.asmx"
    settings.PARLEY_CONVERSATION_HISTORY = settings.PARLEY_CONTACT_SYNC = True


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        (
            {"contact_sync": "yes"},
            "invalid_mailbox_setting",
            "contact_sync must be true or false.",
        ),
        (
            {"calendar": True},
            "invalid_mailbox_setting",
            "Unknown setting calendar: use conversation_history, contact_sync.",
        ),
        (
            ["conversation_history"],
            "invalid",
            'Send an object, e.g. {"conversation_history": true}.',
        ),
    ],
)
def test_bad_choices_are_refused_and_nothing_is_stored(
    offered, api_client_for, make_person, body, code, detail
):
    alice = make_person("alice", email="alice@contoso.test")

    response = api_client_for(alice).patch("/api/v1/me/mailbox/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == {"code": code, "detail": detail}
    assert not MailboxSync.objects.filter(syncs_contacts=True).exists()
    assert not MailboxSync.objects.filter(keeps_conversation_history=True).exists()


def test_a_person_without_a_mailbox_cannot_turn_it_on(offered, api_client_for, make_person):
    frank = make_person("frank", email="")

    response = api_client_for(frank).patch(
        "/api/v1/me/mailbox/", {"contact_sync": True}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_mailbox"
    assert not MailboxSync.objects.filter(syncs_contacts=True).exists()


def test_turning_both_on_and_off_again(offered, api_client_for, make_person):
    alice = make_person("alice", email="alice@contoso.test")
    client = api_client_for(alice)

    on = client.patch(
        "/api/v1/me/mailbox/", {"conversation_history": True, "contact_sync": True}, format="json"
    ).json()
    off = client.patch("/api/v1/me/mailbox/", {"contact_sync": False}, format="json").json()

    assert (on["conversation_history"], on["contact_sync"]) == (True, True)
    assert (off["conversation_history"], off["contact_sync"]) == (True, False)
    assert off["offered"] == {"conversation_history": True, "contact_sync": True}


def test_signed_out_callers_are_refused():
    response = APIClient().get("/api/v1/me/mailbox/")

    assert response.status_code in (401, 403)
    assert "error" in response.json()
