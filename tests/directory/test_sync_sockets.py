"""A directory sync that disables someone cuts them off: their open socket closes."""

import pytest
from channels.db import database_sync_to_async

from directory.integrations.ldap import DirectoryEntry, DirectorySnapshot
from directory.models import Person
from directory.sync import directory_sync
from tests.presence.test_consumers import TIMEOUT, sockets  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _entry(username: str, *, is_disabled: bool = False) -> DirectoryEntry:
    return DirectoryEntry(
        dn=f"uid={username},ou=people,dc=bank",
        fields={"username": username, "display_name": username.title()},
        is_disabled=is_disabled,
    )


async def test_a_sync_that_disables_a_person_closes_their_open_socket(sockets):  # noqa: F811
    sync = database_sync_to_async(directory_sync)
    await sync(snapshot=DirectorySnapshot(people=[_entry("dave"), _entry("erin")], groups=[]))
    dave = await Person.objects.aget(username="dave")
    erin = await Person.objects.aget(username="erin")
    dave_ws, _ = await sockets.connect(dave)
    erin_ws, _ = await sockets.connect(erin)

    await sync(
        snapshot=DirectorySnapshot(
            people=[_entry("dave", is_disabled=True), _entry("erin")], groups=[]
        )
    )

    assert await dave_ws.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": 4403,  # deactivated: forbidden, not signed out
    }
    sockets.open.remove(dave_ws)
    await erin_ws.send_json_to({"type": "ping", "ref": "p"})
    assert (await erin_ws.receive_json_from(timeout=TIMEOUT))["type"] == "pong"  # erin stays
    assert not (await Person.objects.aget(username="dave")).is_active
