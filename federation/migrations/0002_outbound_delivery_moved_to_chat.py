# The outbox of messages to external people moved to chat (chat.OutboundDelivery): chat owns
# delivery state and federation only calls chat. Rows waiting here are copied over first, so
# nothing queued before the upgrade is lost; one handed over counts as one attempt.

from django.db import migrations

COPY = """
INSERT INTO chat_outbounddelivery
    (message_id, recipient_id, delivery_key, created_at, attempts, attempted_at, sent_at,
     failed_at, error)
SELECT message_id, recipient_id, stanza_id, created_at,
       CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END, sent_at, sent_at, failed_at, error
FROM federation_outboundmessage
ORDER BY id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0001_initial"),
        ("chat", "0006_outbound_delivery"),
    ]

    operations = [
        migrations.RunSQL(COPY, reverse_sql=migrations.RunSQL.noop),
        migrations.DeleteModel(name="OutboundMessage"),
    ]
