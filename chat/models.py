"""Conversations (direct, group, room), their participants and messages; room categories
(ethical walls), invitations, files, hashtags and topic feeds."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q

from directory.models import Department


class Category(models.Model):
    """A room category and the ethical wall around its rooms.

    Who may be in its rooms: everyone, unless the allowed lists (people, departments, groups)
    name anyone, in which case only those; the denied lists always win over the allowed ones.
    Who may create rooms in it: those allowed, narrowed to the creator lists when they name
    anyone. Changes go through chat.services.category_update (the admin calls it too), which
    removes members now walled out.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    allowed_people = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    allowed_departments = models.ManyToManyField(Department, blank=True, related_name="+")
    allowed_groups = models.ManyToManyField(Group, blank=True, related_name="+")
    denied_people = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    denied_departments = models.ManyToManyField(Department, blank=True, related_name="+")
    denied_groups = models.ManyToManyField(Group, blank=True, related_name="+")
    creator_people = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    creator_departments = models.ManyToManyField(Department, blank=True, related_name="+")
    creator_groups = models.ManyToManyField(Group, blank=True, related_name="+")
    allows_invitations = models.BooleanField(default=True)
    allows_files = models.BooleanField(default=True)
    keeps_history = models.BooleanField(
        default=True, help_text="Off: people who join a room read it only from when they joined."
    )
    # Information barriers (beyond rooms): the people the allowed lists name and the people
    # the denied lists name may not IM each other (chat.services.barriers).
    forbids_direct_im = models.BooleanField(
        default=False,
        help_text="Also forbid 1:1 IM between the people allowed here and the people denied.",
    )
    forbids_group_im = models.BooleanField(
        default=False,
        help_text="Also forbid group IM that includes people allowed here and people denied.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct"
        GROUP = "group"
        ROOM = "room"

    class Privacy(models.TextChoices):
        OPEN = "open"  # listed; anyone the category allows may join
        CLOSED = "closed"  # listed; members only, by invitation or a manager
        SECRET = "secret"  # noqa: S105 - a privacy level, not a credential; unlisted, members only

    class RoomKind(models.TextChoices):
        NORMAL = "normal"
        AUDITORIUM = "auditorium"  # only presenters and managers post

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
    # Rooms only.
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="rooms"
    )
    privacy = models.CharField(max_length=10, choices=Privacy.choices, default=Privacy.OPEN)
    room_kind = models.CharField(max_length=12, choices=RoomKind.choices, default=RoomKind.NORMAL)
    # Direct and group conversations that an information barrier now divides (a directory sync
    # moved someone across it): kept readable, closed for posting.
    posting_closed_at = models.DateTimeField(null=True, blank=True)
    posting_closed_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "title"])]
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
    # The newest message a missed-IM e-mail already told the person about: each message is
    # announced at most once (chat/services/notices.py).
    noticed_seq = models.PositiveBigIntegerField(default=0)

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
    # Username of the room manager who removed someone else's message (the visible notice).
    removed_by = models.CharField(max_length=150, blank=True)
    file = models.ForeignKey(
        "chat.File", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The message this one answers, in the same conversation (chat.services.message_post).
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # [{"emoji", "count", "people": [usernames]}], rewritten from the Reaction rows under the
    # message's row lock by chat.services.reactions: lists and frames read it without a join.
    reactions = models.JSONField(default=list, blank=True)

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


class Reaction(models.Model):
    """One person's emoji reaction to a message (one row per person and emoji)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reaction_rows")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "person", "emoji"], name="one_reaction_per_person_emoji"
            )
        ]

    def __str__(self) -> str:
        return f"{self.emoji} on {self.message_id}"


class OutboundDelivery(models.Model):
    """A message on its way to an external participant, owned by chat from post to outcome.

    Written in the transaction that stores the message, so nothing is lost while the gateway
    that carries it (federation) or its server is down. A gateway records each attempt before
    it sends (attempts, attempted_at), sends with the stable delivery_key as the stanza id, and
    marks sent_at once its server confirmed the hand-over, or failed_at with the error.
    """

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # The same on every attempt, so the receiving side can drop a re-send after a crash, and
    # an error bounced by the remote side finds its message.
    delivery_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    attempted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name_plural = "outbound deliveries"
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(sent_at__isnull=True, failed_at__isnull=True),
                name="outbound_delivery_pending",
            )
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} to {self.recipient_id}"


class Invitation(models.Model):
    """An invitation to a room; accepting it makes the invitee a member."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        DECLINED = "declined"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="invitations"
    )
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_invitations"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "invitee"],
                condition=Q(status="pending"),
                name="one_pending_invitation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.invitee} to {self.conversation} ({self.status})"


def _file_path(instance: "File", filename: str) -> str:
    # The stored name is the content hash, never the uploader's text.
    return f"files/{instance.sha256[:2]}/{instance.sha256}"


class File(models.Model):
    """A file posted into a conversation. The blob is kept when its message is deleted: the
    archive and its exports refer to it."""

    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="files")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    blob = models.FileField(upload_to=_file_path, max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class MessageHashtag(models.Model):
    """A #hashtag of a message (lower case, without the #), for feeds and tag search."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="hashtags")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    tag = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "tag"], name="one_row_per_message_tag")
        ]
        indexes = [models.Index(fields=["tag", "message"])]

    def __str__(self) -> str:
        return f"#{self.tag}"


class Feed(models.Model):
    """A topic feed: a saved filter over every room its owner may read.

    A message matches when each non-empty criterion matches: any of the words, any of the
    hashtags, any of the rooms, any of the authors.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feeds"
    )
    name = models.CharField(max_length=100)
    words = models.JSONField(default=list, blank=True)
    hashtags = models.JSONField(default=list, blank=True)
    room_ids = models.JSONField(default=list, blank=True)
    author_ids = models.JSONField(default=list, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class FeedTerm(models.Model):
    """The index that finds a new message's candidate feeds in one query, not a scan."""

    class Kind(models.TextChoices):
        WORD = "word"
        HASHTAG = "hashtag"
        ROOM = "room"
        AUTHOR = "author"

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="terms")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=100)

    class Meta:
        indexes = [models.Index(fields=["kind", "value"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class FeedMatch(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="matches")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "message"], name="one_match_per_message")
        ]

    def __str__(self) -> str:
        return f"{self.feed_id} <- {self.message_id}"


class ConversationHistoryDay(models.Model):
    """One conversation-day written to a person's Conversation History folder, with the digest
    of what was written: a day whose transcript now reads differently is written again."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    digest = models.CharField(max_length=64)
    item_id = models.CharField(max_length=512, blank=True)
    written_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "conversation", "day"], name="one_history_item_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.conversation_id} {self.day}"


class ImPolicy(models.Model):
    """Instant-messaging rules (Lync's IM policy): the global policy applies to everyone
    without an assignment."""

    name = models.CharField(max_length=100, unique=True)
    is_global = models.BooleanField(default=False)
    delivers_offline = models.BooleanField(
        default=True,
        help_text=(
            "Keep direct and group messages for people who are offline until they connect. "
            "Off: a message to someone with no live connection is not delivered and its "
            "sender is told so (the attempt is archived)."
        ),
    )

    class Meta:
        verbose_name = "IM policy"
        verbose_name_plural = "IM policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_global"], condition=Q(is_global=True), name="one_global_im_policy"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ImPolicyAssignment(models.Model):
    """A per-person override of the global IM policy (it applies to them as recipient)."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="im_policy_assignment"
    )
    policy = models.ForeignKey(ImPolicy, on_delete=models.PROTECT, related_name="assignments")

    class Meta:
        verbose_name = "IM policy assignment"

    def __str__(self) -> str:
        return f"{self.person} -> {self.policy}"


class NoticePreference(models.Model):
    """A person's choice about missed-IM e-mail (no row: the default, mail on)."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notice_preference"
    )
    is_missed_im_email_on = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.person}: missed-IM e-mail {'on' if self.is_missed_im_email_on else 'off'}"
