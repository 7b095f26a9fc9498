"""Archiving policies and the append-only, hash-chained archive records."""

from django.conf import settings
from django.db import models
from django.db.models import Q

GENESIS_HASH = "0" * 64


class ArchivingPolicy(models.Model):
    """What to archive: the global policy applies to everyone without an assignment."""

    name = models.CharField(max_length=100, unique=True)
    is_global = models.BooleanField(default=False)
    archive_internal = models.BooleanField(default=True)
    archive_external = models.BooleanField(default=True)
    is_critical = models.BooleanField(
        default=False,
        help_text="Refuse to deliver a message when it must be archived and archiving fails.",
    )

    class Meta:
        verbose_name_plural = "archiving policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_global"], condition=Q(is_global=True), name="one_global_policy"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def archives(self, *, is_external: bool) -> bool:
        return self.archive_external if is_external else self.archive_internal


class ArchivingPolicyAssignment(models.Model):
    """A per-person override of the global policy."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="archiving_assignment"
    )
    policy = models.ForeignKey(
        ArchivingPolicy, on_delete=models.PROTECT, related_name="assignments"
    )

    def __str__(self) -> str:
        return f"{self.person} -> {self.policy}"


class ArchiveEvent(models.TextChoices):
    CONVERSATION_CREATED = "conversation.created"
    MESSAGE_POSTED = "message.posted"
    MESSAGE_EDITED = "message.edited"
    MESSAGE_DELETED = "message.deleted"
    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_LEFT = "participant.left"


class ArchiveRecord(models.Model):
    """One captured event. Never updated or deleted in place (retention purges are separate).

    conversation_id is a plain integer: the archive outlives and does not depend on the chat
    tables, and records of a conversation stay readable after the conversation is gone.
    """

    conversation_id = models.BigIntegerField()
    conversation_kind = models.CharField(max_length=10)
    is_external = models.BooleanField(default=False)
    chain_index = models.PositiveBigIntegerField()
    event = models.CharField(max_length=32, choices=ArchiveEvent.choices)
    message_id = models.BigIntegerField(null=True, blank=True)
    message_seq = models.BigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    actor_username = models.CharField(max_length=150)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    prev_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation_id", "chain_index"], name="one_record_per_chain_link"
            )
        ]
        indexes = [models.Index(fields=["occurred_at"]), models.Index(fields=["message_id"])]

    def __str__(self) -> str:
        return f"{self.event} c{self.conversation_id}#{self.chain_index}"


class ArchiveChain(models.Model):
    """The head of one conversation's hash chain, locked with the conversation on append."""

    conversation_id = models.BigIntegerField(primary_key=True)
    length = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"chain c{self.conversation_id} ({self.length})"


class CaptureFailure(models.Model):
    """An event that should have been archived but could not be (non-critical policies only)."""

    conversation_id = models.BigIntegerField()
    event = models.CharField(max_length=32)
    message_id = models.BigIntegerField(null=True, blank=True)
    error = models.TextField()
    occurred_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.event} c{self.conversation_id}: {self.error[:60]}"


class AuditAction(models.TextChoices):
    """Every compliance action that leaves an audit entry."""

    SEARCH = "archive.search"
    RECORD_VIEW = "archive.record_view"
    CONTEXT_VIEW = "archive.context_view"
    VERIFY = "archive.verify"
    CASE_CREATE = "case.create"
    CASE_UPDATE = "case.update"
    HOLD_PLACE = "hold.place"
    HOLD_RELEASE = "hold.release"
    SAVED_SEARCH_CREATE = "saved_search.create"
    RETENTION_CHANGE = "retention.change"
    RETENTION_DRY_RUN = "retention.dry_run"
    RETENTION_RUN = "retention.run"
    POLICY_CHANGE = "policy.change"
    EXPORT_CREATE = "export.create"
    EXPORT_CANCEL = "export.cancel"
    EXPORT_DOWNLOAD = "export.download"
    AUDIT_VIEW = "audit.view"
    SEARCH_REINDEX = "search.reindex"


class AuditEntry(models.Model):
    """One compliance action. Append-only and hash-chained in a single chain of its own.

    record_hash = SHA-256(prev_hash + canonical JSON of the entry), as for archive records;
    sequence has no gaps, so a deleted entry shows as a broken link.
    """

    sequence = models.PositiveBigIntegerField(unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target = models.CharField(max_length=200, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    result_count = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64)

    class Meta:
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["occurred_at"]), models.Index(fields=["action"])]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_username}"


class AuditChain(models.Model):
    """The head of the audit chain: one row, locked on every append."""

    length = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"audit chain ({self.length})"


class ArchiveMembership(models.Model):
    """Who was in a conversation from one chain link to another (inclusive; open while present).

    Kept by capture() under the conversation lock, in chain order, so a record's participants
    are known exactly: the search scope "participants" means the actor of a record or anyone
    in its conversation at that link. person_id is a plain integer, as the archive outlives
    accounts.
    """

    conversation_id = models.BigIntegerField()
    person_id = models.BigIntegerField()
    username = models.CharField(max_length=150)
    from_index = models.PositiveBigIntegerField()
    to_index = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["person_id", "conversation_id"]),
            models.Index(fields=["conversation_id", "to_index"]),
        ]

    def __str__(self) -> str:
        return f"{self.username} in c{self.conversation_id} [{self.from_index}, {self.to_index}]"


class IndexOperation(models.TextChoices):
    INDEX = "index"
    DELETE = "delete"


class ArchiveIndexOutbox(models.Model):
    """A record whose search index entry must be written or removed; drained by Celery.

    Written in the capture transaction, so a committed record always has a row here until the
    index holds it. The row id is also the external version sent to Elasticsearch: ids only
    grow, so a stale replay of an older row never overwrites what a newer one wrote.
    """

    record_id = models.BigIntegerField()
    operation = models.CharField(
        max_length=6, choices=IndexOperation.choices, default=IndexOperation.INDEX
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "archive index outbox"

    def __str__(self) -> str:
        return f"{self.operation} record {self.record_id}"


class ArchiveSearchEntry(models.Model):
    """A record known to be in the search index (any backend), with the version written."""

    record_id = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField()
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "archive search entries"

    def __str__(self) -> str:
        return f"record {self.record_id} v{self.version}"
