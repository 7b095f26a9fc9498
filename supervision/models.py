"""Supervision policies, the evaluation of each captured message, and the review queue.

Records are referred to by their archive id (a plain integer, as the archive refers to
conversations): the archive is append-only and outlives the review, and a retention purge must
never be blocked or cascaded by a review row.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from directory.models import Department


class Scope(models.TextChoices):
    INTERNAL = "internal", _("Internal conversations")
    EXTERNAL = "external", _("External conversations")
    BOTH = "both", _("Internal and external conversations")


class SupervisionPolicy(models.Model):
    """Whose messages are reviewed, by whom, and which of them (lexicon hits and a sample)."""

    name = models.CharField(max_length=200, unique=True)
    people = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="supervision_policies"
    )
    departments = models.ManyToManyField(Department, blank=True, related_name="+")
    groups = models.ManyToManyField(Group, blank=True, related_name="+")
    reviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="supervision_reviews")
    lexicon = models.JSONField(
        default=list,
        blank=True,
        help_text=_('Entries in the archive query language: words, "phrases", AND/OR/NOT.'),
    )
    sample_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.BOTH)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    # Mixed into the sampling hash: the same record draws the same way on every evaluation of
    # this policy, and independently of other policies.
    seed = models.CharField(max_length=32)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "supervision policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_percent__gte=0) & Q(sample_percent__lte=100),
                name="sample_percent_0_to_100",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Outcome(models.TextChoices):
    NONE = "none"
    LEXICON = "lexicon"
    SAMPLE = "sample"


class SupervisionEvaluation(models.Model):
    """One captured message judged under one policy: exactly one row, whatever the retries."""

    policy = models.ForeignKey(SupervisionPolicy, on_delete=models.CASCADE, related_name="+")
    record_id = models.BigIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    evaluated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "record_id"], name="one_evaluation_a_record")
        ]

    def __str__(self) -> str:
        return f"{self.policy_id}/r{self.record_id}: {self.outcome}"


class ItemStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLAIMED = "claimed", _("Claimed")
    RESOLVED = "resolved", _("Resolved")


class Decision(models.TextChoices):
    COMPLIANT = "compliant", _("Compliant")
    ESCALATED = "escalated", _("Escalated")
    VIOLATION = "violation", _("Violation")


class ReviewItem(models.Model):
    """A message a reviewer must look at: a lexicon hit or a sample draw."""

    policy = models.ForeignKey(SupervisionPolicy, on_delete=models.CASCADE, related_name="items")
    record_id = models.BigIntegerField()
    conversation_id = models.BigIntegerField()
    message_id = models.BigIntegerField(null=True, blank=True)
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=10, choices=[(o, o) for o in ("lexicon", "sample")])
    matched = models.JSONField(default=list, blank=True)
    # The captured text as escaped HTML with the matched words in <mark> (Parley's highlighter).
    highlight = models.TextField(blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    comment = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    case_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "record_id"], name="one_item_a_record")
        ]
        indexes = [models.Index(fields=["policy", "status", "id"])]

    def __str__(self) -> str:
        return f"item {self.pk} ({self.reason}, {self.status})"


class SupervisionCursor(models.Model):
    """How far the backstop sweep has looked through the archive (one row)."""

    last_record_id = models.BigIntegerField(default=0)
    swept_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"swept through record {self.last_record_id}"
