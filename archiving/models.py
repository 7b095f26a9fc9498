"""Archiving policies and the append-only, hash-chained archive records."""

import uuid

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
    PARTICIPANT_INVITED = "participant.invited"
    INVITATION_DECLINED = "invitation.declined"
    PARTICIPANT_ROLE_CHANGED = "participant.role_changed"
    MESSAGE_REMOVED_BY_MANAGER = "message.removed_by_manager"
    HISTORY_VIEWED = "history.viewed"
    FILE_UPLOADED = "file.uploaded"
    FILE_DOWNLOADED = "file.downloaded"
    ROOM_UPDATED = "room.updated"
    CONVERSATION_CLOSED = "conversation.closed"
    CONVERSATION_REOPENED = "conversation.reopened"
    MESSAGE_DELIVERY_FAILED = "message.delivery_failed"
    MESSAGE_REPLIED = "message.replied"
    MESSAGE_MENTIONED = "message.mentioned"
    REACTION_ADDED = "reaction.added"
    REACTION_REMOVED = "reaction.removed"
    CONVERSATION_READ = "conversation.read"
    # A post refused because its recipients were offline and their IM policy turns offline
    # delivery off: never stored as a message, archived as the attempt it was.
    MESSAGE_NOT_DELIVERED = "message.not_delivered"


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
    PRESENCE_LOG_VIEW = "presence_log.view"
    SEARCH_REINDEX = "search.reindex"
    CASE_VIEW = "case.view"
    HOLD_VIEW = "hold.view"
    RETENTION_VIEW = "retention.view"
    ACCESS_REFUSED = "access.refused"
    SUPERVISION_POLICY_CREATE = "supervision.policy_create"
    SUPERVISION_ITEM_VIEW = "supervision.item_view"
    SUPERVISION_ITEM_CLAIM = "supervision.item_claim"
    SUPERVISION_ITEM_RESOLVE = "supervision.item_resolve"
    SUPERVISION_ITEM_REASSIGN = "supervision.item_reassign"


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


class ArchiveParticipant(models.Model):
    """Someone who took part in an archived conversation, at any time. Never purged.

    Written by capture when a chain starts and when people join, so holds on custodians and
    per-person retention still find a conversation after retention purged its early records.
    """

    conversation_id = models.BigIntegerField()
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation_id", "person"], name="one_archive_participant"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person_id} in c{self.conversation_id}"


class Case(models.Model):
    """An investigation: its legal holds and saved searches."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class LegalHold(models.Model):
    """Keeps every record it covers from retention until released (see archiving/holds.py)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="holds")
    custodians = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="legal_holds_as_custodian", blank=True
    )
    conversation_ids = models.JSONField(default=list, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    query = models.TextField(blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["released_at"])]

    def __str__(self) -> str:
        return f"hold {self.pk} of case {self.case_id}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class SavedSearch(models.Model):
    """A query and filters kept with a case, to run again."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="saved_searches")
    name = models.CharField(max_length=200)
    query = models.TextField(blank=True)
    filters = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "saved searches"
        constraints = [
            models.UniqueConstraint(fields=["case", "name"], name="one_saved_search_name_per_case")
        ]

    def __str__(self) -> str:
        return self.name


class RetentionPolicy(models.Model):
    """Keep archive records this many days. Between applicable policies the longest wins."""

    class Scope(models.TextChoices):
        GLOBAL = "global"
        PERSON = "person"
        CONVERSATION = "conversation"

    scope = models.CharField(max_length=12, choices=Scope.choices)
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    conversation_id = models.BigIntegerField(null=True, blank=True)
    days = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retention policies"
        constraints = [
            models.UniqueConstraint(
                fields=["scope"], condition=Q(scope="global"), name="one_global_retention"
            ),
            models.UniqueConstraint(
                fields=["person"], condition=Q(scope="person"), name="one_retention_per_person"
            ),
            models.UniqueConstraint(
                fields=["conversation_id"],
                condition=Q(scope="conversation"),
                name="one_retention_per_conversation",
            ),
            models.CheckConstraint(
                condition=(
                    Q(scope="global", person__isnull=True, conversation_id__isnull=True)
                    | Q(scope="person", person__isnull=False, conversation_id__isnull=True)
                    | Q(scope="conversation", person__isnull=True, conversation_id__isnull=False)
                ),
                name="retention_scope_names_its_target",
            ),
            models.CheckConstraint(condition=Q(days__gte=1), name="retention_days_positive"),
        ]

    def __str__(self) -> str:
        if self.scope == self.Scope.PERSON:
            return f"{self.person} {self.days} days"
        if self.scope == self.Scope.CONVERSATION:
            return f"conversation {self.conversation_id} {self.days} days"
        return f"global {self.days} days"


class RetentionPurge(models.Model):
    """One batch of a retention run: what it deleted, anchored in the audit trail."""

    run_id = models.UUIDField()
    run_at = models.DateTimeField()
    records_purged = models.PositiveBigIntegerField()
    # {"<conversation id>": records purged}
    conversations = models.JSONField(default=dict)
    gaps_digest = models.CharField(max_length=64)
    audit_entry = models.OneToOneField(AuditEntry, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"purge {self.run_at:%Y-%m-%d %H:%M} ({self.records_purged} records)"


class ChainGap(models.Model):
    """A purged run of links [from_index, to_index] in one conversation's chain.

    prev_hash_before is the prev_hash the first purged record carried (the hash of the record
    kept before the gap, or GENESIS); prev_hash_after is the hash of the last purged record,
    which the first record kept after the gap carries. archive_verify steps over exactly these
    ranges, so a record removed any other way is still a broken link.
    """

    purge = models.ForeignKey(RetentionPurge, on_delete=models.PROTECT, related_name="gaps")
    conversation_id = models.BigIntegerField()
    from_index = models.PositiveBigIntegerField()
    to_index = models.PositiveBigIntegerField()
    prev_hash_before = models.CharField(max_length=64)
    prev_hash_after = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation_id", "from_index"], name="one_gap_per_chain_position"
            )
        ]

    def __str__(self) -> str:
        return f"gap c{self.conversation_id} {self.from_index}..{self.to_index}"


class ExportFormat(models.TextChoices):
    RSMF = "rsmf"
    EML = "eml"
    EXCHANGE = "exchange"


class ExportStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ExportJob(models.Model):
    """One export of a case or a search, written by a Celery task (archiving/exports/runner.py).

    state holds what a restarted task needs to resume with the same output: the chain heads and
    expected count taken at the first start, the last (conversation_id, chain_index) written and
    the files completed so far with their hashes.
    """

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    scope = models.JSONField()
    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    # The language of the transcripts' sentences and headings (settings.LANGUAGES); times and
    # RSMF's fields are the same in every language.
    language = models.CharField(max_length=10, default="en")
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    records_done = models.BigIntegerField(default=0)
    records_total = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    output_dir = models.CharField(max_length=500, blank=True)
    archive_path = models.CharField(max_length=500, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    state = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {
            ExportStatus.COMPLETED,
            ExportStatus.FAILED,
            ExportStatus.CANCELLED,
        }


class ExportFile(models.Model):
    """One file an export job has finished writing, with its hash (one row per file, so a
    job's progress is recorded in constant time however many files it has)."""

    job = models.ForeignKey(ExportJob, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    records = models.IntegerField()
    conversation_id = models.BigIntegerField()
    day = models.DateField()
    first_chain_index = models.PositiveBigIntegerField()
    last_chain_index = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "path"], name="one_export_file_per_path")
        ]

    def __str__(self) -> str:
        return self.path

    def to_manifest(self) -> dict:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "records": self.records,
            "conversation": self.conversation_id,
            "day": self.day.isoformat(),
            "first_chain_index": self.first_chain_index,
            "last_chain_index": self.last_chain_index,
        }


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
    """A record or a message whose search index entry must be written or removed; drained by
    Celery (the one indexing pipeline of the search core).

    Written in the capture transaction (a record) or the posting, edit or deletion transaction
    (a message: history search indexes its current text), so a committed change always has a
    row here until the index holds it. Exactly one of record_id and message_id is set. The row
    id is also the external version sent to Elasticsearch: ids only grow, so a stale replay of
    an older row never overwrites what a newer one wrote.
    """

    record_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    operation = models.CharField(
        max_length=6, choices=IndexOperation.choices, default=IndexOperation.INDEX
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # A row the backend refused for good (e.g. a document its mapping rejects) is parked
    # aside with the reason instead of staying at the head of the queue, where it would be
    # taken again by every run and, once a batch of them gathers, stop indexing altogether.
    parked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    parked_reason = models.TextField(blank=True, default="")

    class Meta:
        verbose_name_plural = "archive index outbox"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(record_id__isnull=True) ^ models.Q(message_id__isnull=True),
                name="index_outbox_record_xor_message",
            )
        ]

    def __str__(self) -> str:
        if self.message_id is not None:
            return f"{self.operation} message {self.message_id}"
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


class SearchIndexIdentity(models.Model):
    """Who this database is, for an index kept outside it (the embedded tantivy folder).

    The folder records the id of the database it was built from; a folder that names another
    database (a new database, a copied or stale folder) is emptied and rebuilt from the
    archive before it answers anything, so an index never serves records of a database it was
    not built from. One row; created by the migration, or on first use after a flush.
    """

    database_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"database {self.database_id}"


class HistoryViewRepeat(models.Model):
    """How many more times a person viewed the same history range soon after a captured view.

    Kept beside the chain, not in it: the first view of a range is a chained history.viewed
    record (who read which messages, and when, is tamper-evident); repeats of that same view
    within PARLEY_HISTORY_VIEW_WINDOW_SECONDS of it only add to this count, so opening a
    conversation five times in three minutes is one record that says "5 times" instead of
    five records flooding transcripts. The count is secondary evidence and the one mutable
    thing here; a view outside the window, or of another range, is a new chained record.
    Goes with its record when retention purges it.
    """

    record = models.OneToOneField(
        ArchiveRecord, on_delete=models.CASCADE, primary_key=True, related_name="history_repeat"
    )
    repeats = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"record {self.record_id} viewed {self.repeats} more times"


class ChainAnchor(models.Model):
    """A signed statement of every chain head and the audit chain head at one moment.

    Appended, never changed (archiving/anchors.py). The same document is written as a file
    outside the database, so a copy held elsewhere can prove the archive later: someone who
    rewrites the hashes from a record through to its chain's head makes a consistent chain,
    but not one that ends in the head an earlier anchor signed.
    """

    created_at = models.DateTimeField()
    reason = models.CharField(max_length=20)
    document = models.TextField()  # canonical JSON, exactly the bytes signed
    signature = models.CharField(max_length=200)
    public_key = models.TextField()
    file_name = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"anchor {self.pk} ({self.reason}, {self.created_at:%Y-%m-%d %H:%M})"


# Usage reports keep their models in their own package; imported here so Django sees them.
from archiving.usage.models import (  # noqa: E402, F401
    UsageConversationDay,
    UsageCursor,
    UsageParticipantDay,
)
