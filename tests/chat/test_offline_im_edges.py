"""The offline IM switch at the edges: an `error` frame `recipient_offline` (the socket stays
open) and a 409 REST answer, each naming who is offline; nothing is stored or broadcast."""

import pytest
from channels.db import database_sync_to_async

from archiving.models import ArchiveRecord
from chat.models import ImPolicy, Message
from tests.chat.test_consumers import (  # noqa: F401 - fixtures used by name
    as_alice,
    as_bob,
    direct,
    open_socket,
    ping_pong,
    receive,
    send_message,
)


@database_sync_to_async
def _offline_delivery_off() -> None:
    ImPolicy.objects.create(name="Global", is_global=True, delivers_offline=False)


@database_sync_to_async
def _stored() -> tuple[list[str], list[str]]:
    return (
        list(Message.objects.values_list("body", flat=True)),
        list(
            ArchiveRecord.objects.filter(event="message.not_delivered").values_list(
                "body", flat=True
            )
        ),
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_send_to_offline_person_answers_an_error_frame_and_keeps_the_socket(
    open_socket,  # noqa: F811
    direct,  # noqa: F811
    as_alice,  # noqa: F811
    as_bob,  # noqa: F811
):
    await _offline_delivery_off()
    alice_socket, _ = await open_socket(as_alice)

    await send_message(alice_socket, direct.pk, "are you there?", ref="s1", client_id="c1")
    [frame] = await receive(alice_socket)

    assert frame["type"] == "error"
    assert frame["ref"] == "s1"
    assert frame["code"] == "recipient_offline"
    assert frame["offline"] == ["bob"]
    assert "Bob Chen is offline" in frame["detail"]
    assert await _stored() == ([], ["are you there?"])
    await ping_pong(alice_socket)

    # Once bob is connected the same conversation delivers again.
    await open_socket(as_bob)
    await send_message(alice_socket, direct.pk, "there you are", ref="s2", client_id="c2")
    frames = [f for f in await receive(alice_socket, 2) if not f["type"].startswith("presence")]
    assert {f["type"] for f in frames} == {"message.ack", "message.new"}
    assert await _stored() == (["there you are"], ["are you there?"])


@pytest.mark.django_db
def test_rest_post_to_offline_person_answers_409_with_who_is_offline(
    alice,
    bob,
    direct,  # noqa: F811
    api_client_for,
):
    ImPolicy.objects.create(name="Global", is_global=True, delivers_offline=False)

    response = api_client_for(alice).post(
        f"/api/v1/conversations/{direct.pk}/messages/",
        {"body": "are you there?", "client_id": "r1"},
        format="json",
    )

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "recipient_offline"
    assert error["offline"] == ["bob"]
    assert "not delivered" in error["detail"]
    assert not Message.objects.exists()
    assert list(
        ArchiveRecord.objects.filter(event="message.not_delivered").values_list("body", flat=True)
    ) == ["are you there?"]
