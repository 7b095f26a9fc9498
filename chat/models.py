"""Conversations (direct, group, room), their participants and messages."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct"
        GROUP = "group"
        ROOM = "room"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=200, blank=True)
    topic = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    # "<smaller person id>:<larger person id>" for direct conversations: makes them unique.
    direct_key = models.CharField(max_length=41, null=True, blank=True, unique=True)
    is_external = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The seq of the newest message; advanced under this row's lock, so seqs have no gaps.
    last_seq = models.PositiveBigIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="direct", direct_key__isnull=False) | ~Q(kind="direct"),
                name="direct_has_key",
            )
        ]

    def __str__(self) -> str:
        return self.title or f"{self.kind} {self.pk}"


class Participant(models.Model):
    """A person's membership of a conversation, from joined_at until left_at."""

    class Role(models.TextChoices):
        MEMBER = "member"
        PRESENTER = "presenter"
        MANAGER = "manager"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)
    # Messages with seq above this are visible: a newcomer to a group does not read what was
    # said before they arrived (rooms keep their history visible to members).
    visible_after_seq = models.PositiveBigIntegerField(default=0)
    last_read_seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "person"],
                condition=Q(left_at__isnull=True),
                name="one_active_participation",
            )
        ]
        indexes = [models.Index(fields=["person", "left_at"])]

    def __str__(self) -> str:
        return f"{self.person} in {self.conversation}"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages_sent"
    )
    body = models.TextField()
    client_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Set when a message to an external person could not be delivered over federation.
    delivery_error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="one_message_per_seq"),
            models.UniqueConstraint(
                fields=["sender", "client_id"], name="one_message_per_client_id"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} in {self.conversation_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class SearchOutbox(models.Model):
    """Messages whose search index entry must be (re)written; drained by a Celery task."""

    message_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"index message {self.message_id}"
