# Joins the migrations that parallel work added to this app.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('archiving', '0017_audit_supervision_actions'),
        ('archiving', '0017_export_language'),
        ('archiving', '0017_message_not_delivered_event'),
        ('archiving', '0017_reply_mention_reaction_read_events'),
        ('archiving', '0018_search_index_identity'),
    ]

    operations = [
    ]
