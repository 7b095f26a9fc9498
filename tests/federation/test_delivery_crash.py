"""Exactly once from Parley's side: a gateway that dies after sending a message but before
recording that it did sends it again on restart, with the same stanza id (its own module: it
kills this module's gateway).

What Parley can promise: nothing is lost (the delivery waits in chat's outbox until marked),
nothing marked is sent again, and a copy sent again after a crash carries the id (stanza id and
XEP-0359 origin-id) of the first, so the receiving side can drop it. A component stream has no
per-stanza acknowledgement, so the sender alone cannot rule out that second copy.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection

from chat.models import OutboundDelivery
from tests.federation.prosody import COMPONENT

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_KEY = 7301  # a PostgreSQL advisory lock key of this test's own
WAIT_TIMEOUT = 30.0

# Makes the gateway's "mark sent" wait on the test's lock, then fail: the gateway is stopped
# inside the mark, after its send, and the mark can never land once the test lets it go.
TRIGGER = f"""
CREATE OR REPLACE FUNCTION parley_test_mark_blocked() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    RAISE EXCEPTION 'the gateway died before it could mark this delivery sent';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER parley_test_mark_blocked BEFORE UPDATE ON chat_outbounddelivery
    FOR EACH ROW WHEN (OLD.sent_at IS NULL AND NEW.sent_at IS NOT NULL)
    EXECUTE FUNCTION parley_test_mark_blocked();
"""
UNTRIGGER = """
DROP TRIGGER IF EXISTS parley_test_mark_blocked ON chat_outbounddelivery;
DROP FUNCTION IF EXISTS parley_test_mark_blocked();
"""


def is_body(text: str):
    return lambda s: s["kind"] == "message" and s["body"] == text


@contextmanager
def mark_held(database_url: str) -> Iterator[psycopg.Connection]:
    """Hold the lock every mark of a delivery as sent waits on (then fails)."""
    with connection.cursor() as cursor:
        cursor.execute(TRIGGER)
    holder = psycopg.connect(database_url, autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        yield holder
    finally:
        holder.close()  # releases the lock: a mark still waiting fails and rolls back
        with connection.cursor() as cursor:
            cursor.execute(UNTRIGGER)


def wait_mark_waiting(holder: psycopg.Connection, federation) -> None:
    """Wait until the gateway is inside its mark (its UPDATE waits on the held lock)."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        [(waiting,)] = holder.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid = %s AND objsubid = 1",
            [LOCK_KEY],
        ).fetchall()
        if waiting:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the gateway never reached its mark:\n{federation.gateway.log_tail()}")
        time.sleep(0.05)


def test_gateway_killed_between_send_and_mark_sends_again_with_the_same_id(
    federation, partners, alice, ws_connect, xmpp_login
):
    # given a conversation between bob (XMPP) and alice (Parley)
    alice_ws = ws_connect(alice)
    bob = xmpp_login("bob")
    bob.message_send(f"alice@{COMPONENT}", "hello")
    conversation = alice_ws.take("conversation.updated")["conversation"]["id"]

    # when alice writes, and the gateway dies after sending it but before recording that
    with mark_held(federation.gateway_env["DATABASE_URL"]) as holder:
        ack = alice_ws.message_send(conversation=conversation, body="exactly once?", ref="r1")
        first = bob.take(is_body("exactly once?"), what="the message")
        wait_mark_waiting(holder, federation)
        federation.gateway.kill()
    delivery = OutboundDelivery.objects.get(message_id=ack["id"])
    assert (delivery.attempts, delivery.sent_at, delivery.failed_at) == (1, None, None)

    # then the gateway, started again, sends it again as the same stanza
    federation.gateway_restart()
    again = bob.take(is_body("exactly once?"), what="the message sent again")
    assert again["id"] == first["id"] == delivery.delivery_key
    assert again["origin_id"] == first["origin_id"] == delivery.delivery_key
    assert again["from"].split("/")[0] == first["from"].split("/")[0] == f"alice@{COMPONENT}"

    # and records it as handed over, at its second attempt, so it is never sent a third time:
    # the next message bob gets is the next one alice writes
    delivery = federation.wait_delivery_settled(message_id=ack["id"])
    assert (delivery.attempts, delivery.failed_at) == (2, None)
    assert delivery.sent_at is not None
    alice_ws.message_send(conversation=conversation, body="and the next one", ref="r2")
    following = bob.take(lambda s: s["kind"] == "message" and s["body"], what="the next message")
    assert (following["body"], following["id"]) == (
        "and the next one",
        OutboundDelivery.objects.get(message__body="and the next one").delivery_key,
    )
