# Joins the migrations that parallel work added to this app.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0009_conversation_history_days'),
        ('chat', '0009_history_search_on_the_one_index_pipeline'),
        ('chat', '0009_im_policy_and_missed_im_notices'),
        ('chat', '0010_message_mentions'),
    ]

    operations = [
    ]
