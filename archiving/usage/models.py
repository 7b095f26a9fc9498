"""Usage rows: a conversation-day, the people who were active in it, and the refresh cursor."""

from django.conf import settings
from django.db import models


class UsageConversationDay(models.Model):
    """What happened in one conversation on one UTC day: counts and times, no content."""

    conversation_id = models.BigIntegerField()
    day = models.DateField()
    kind = models.CharField(max_length=10)
    is_external = models.BooleanField(
        default=False, help_text="An external person took part in the conversation that day."
    )
    messages = models.PositiveIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    external_messages = models.PositiveIntegerField(
        default=0, help_text="Messages posted while the conversation had an external person."
    )
    first_activity = models.DateTimeField()
    last_activity = models.DateTimeField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "archiving"
        constraints = [
            models.UniqueConstraint(fields=["conversation_id", "day"], name="one_usage_row_a_day")
        ]
        indexes = [models.Index(fields=["day", "kind"])]

    def __str__(self) -> str:
        return f"c{self.conversation_id} {self.day}"


class UsageParticipantDay(models.Model):
    """One person's activity in a conversation-day (a participant of the record)."""

    conversation_day = models.ForeignKey(
        UsageConversationDay, on_delete=models.CASCADE, related_name="participants"
    )
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    username = models.CharField(max_length=150)
    department = models.CharField(max_length=200, null=True, blank=True)
    is_external = models.BooleanField(default=False)
    messages = models.PositiveIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    external_messages = models.PositiveIntegerField(default=0)

    class Meta:
        app_label = "archiving"
        constraints = [
            models.UniqueConstraint(
                fields=["conversation_day", "person"], name="one_usage_participant_a_day"
            )
        ]
        indexes = [models.Index(fields=["department"])]

    def __str__(self) -> str:
        return f"{self.username} in {self.conversation_day_id}"


class UsageCursor(models.Model):
    """The single row saying up to which archive record the usage rows are settled."""

    last_record_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "archiving"

    def __str__(self) -> str:
        return f"usage cursor at {self.last_record_id}"
