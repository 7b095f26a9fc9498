"""Presence: a person's published state, admin-defined custom states, contacts with the
privacy relationship each person chooses for the people who watch them."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Availability(models.TextChoices):
    AVAILABLE = "available"
    BUSY = "busy"
    DO_NOT_DISTURB = "do-not-disturb"
    BE_RIGHT_BACK = "be-right-back"
    AWAY = "away"
    OFF_WORK = "off-work"
    OFFLINE = "offline"


# What a person may choose by hand: the built-ins plus appear-offline (shown to others as
# offline), never "offline" itself, which only the absence of endpoints produces.
APPEAR_OFFLINE = "appear-offline"
MANUAL_CHOICES = [
    Availability.AVAILABLE,
    Availability.BUSY,
    Availability.DO_NOT_DISTURB,
    Availability.BE_RIGHT_BACK,
    Availability.AWAY,
    Availability.OFF_WORK,
    APPEAR_OFFLINE,
]


class Activity(models.TextChoices):
    IN_A_MEETING = "in-a-meeting"
    IN_A_CALL = "in-a-call"
    OUT_OF_OFFICE = "out-of-office"


class Relationship(models.TextChoices):
    """The level of access a person grants a watcher (DESIGN.md section 4)."""

    FRIENDS_FAMILY = "friends_family"
    WORKGROUP = "workgroup"
    COLLEAGUES = "colleagues"
    EXTERNAL = "external"
    BLOCKED = "blocked"


class CustomPresenceState(models.Model):
    """A state an administrator offers next to the built-ins, e.g. "Working from home"."""

    class ColourClass(models.TextChoices):
        AVAILABLE = Availability.AVAILABLE
        BUSY = Availability.BUSY
        DO_NOT_DISTURB = Availability.DO_NOT_DISTURB

    label = models.CharField(max_length=64, unique=True)
    colour_class = models.CharField(max_length=20, choices=ColourClass.choices)
    translations = models.JSONField(
        default=dict, blank=True, help_text='Labels by language code, e.g. {"fr": "En télétravail"}'
    )
    is_active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "label"]

    def __str__(self) -> str:
        return self.label


class PresenceState(models.Model):
    """What a person publishes; the availability others see is computed from it and the
    person's endpoints (services.presence_compute)."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence"
    )
    manual_availability = models.CharField(
        max_length=20, blank=True, choices=[(c, c) for c in MANUAL_CHOICES]
    )
    custom_state = models.ForeignKey(
        CustomPresenceState, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    manual_expires_at = models.DateTimeField(null=True, blank=True)
    activity = models.CharField(max_length=20, blank=True, choices=Activity.choices)
    note = models.CharField(max_length=500, blank=True)
    out_of_office_note = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=200, blank=True)
    is_privacy_mode = models.BooleanField(
        default=False, help_text="Only people in my contacts see my presence."
    )
    # Set from Exchange free/busy by services.calendar_presence_refresh, kept apart from the
    # manual activity so that neither overwrites the other; ignored once calendar_until passed.
    calendar_activity = models.CharField(
        max_length=20,
        blank=True,
        choices=[
            (Activity.IN_A_MEETING.value, Activity.IN_A_MEETING.label),
            (Activity.OUT_OF_OFFICE.value, Activity.OUT_OF_OFFICE.label),
        ],
    )
    calendar_until = models.DateTimeField(null=True, blank=True)
    # The meeting's subject and place, shown at the workgroup level only (DESIGN.md section 4);
    # empty for a private meeting or when Exchange gives the free/busy view alone.
    calendar_subject = models.CharField(max_length=255, blank=True)
    calendar_location = models.CharField(max_length=255, blank=True)
    # The last computed availability, kept so a change is announced once.
    published_availability = models.CharField(max_length=20, default=Availability.OFFLINE)
    published_is_idle = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.person}: {self.published_availability}"


class Contact(models.Model):
    """One entry of a person's contact list, with the relationship the owner grants them."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contacts"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="in_contacts_of"
    )
    group = models.CharField(max_length=100, blank=True)
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the owner last changed it: the contact sync compares it with the mailbox's copy.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group", "person__username"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "person"], name="one_contact_entry"),
            models.CheckConstraint(condition=~Q(owner=models.F("person")), name="not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} -> {self.person} ({self.relationship})"


class Endpoint(models.Model):
    """One live connection of a person (a browser tab, a program), on one server process.

    Server processes refresh last_seen_at of their endpoints on a heartbeat; an endpoint
    whose process died stops being refreshed and expires (settings.PARLEY_ENDPOINT_EXPIRY).
    """

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="endpoints"
    )
    key = models.CharField(max_length=64, unique=True)
    device = models.CharField(max_length=100, blank=True)
    server = models.CharField(max_length=100)
    connected_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    idle_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["person", "last_seen_at"]),
            models.Index(fields=["server"]),
        ]

    def __str__(self) -> str:
        return f"{self.person} on {self.device or self.server}"


class PresenceLog(models.Model):
    """Every change of a person's availability, for "was X online at time T?"."""

    class Reason(models.TextChoices):
        MANUAL = "manual"
        CONNECT = "connect"
        DISCONNECT = "disconnect"
        IDLE = "idle"
        EXPIRY = "expiry"
        CALENDAR = "calendar"

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="presence_log"
    )
    at = models.DateTimeField()
    from_availability = models.CharField(max_length=20)
    to_availability = models.CharField(max_length=20)
    reason = models.CharField(max_length=12, choices=Reason.choices)

    class Meta:
        indexes = [models.Index(fields=["person", "at"])]

    def __str__(self) -> str:
        return f"{self.person} {self.from_availability}->{self.to_availability} ({self.reason})"


class ContactDistributionGroup(models.Model):
    """A directory group in a person's contact list: its members are expanded on the server
    at every read (so membership changes are followed) and their presence is watched."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_groups"
    )
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group__name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "group"], name="one_contact_group_entry")
        ]

    def __str__(self) -> str:
        return f"{self.owner} -> group {self.group}"


class MailboxContactLink(models.Model):
    """A contact of the owner's list and its twin in their mailbox's contacts folder, as they
    were when last alike. It outlives the contact: a link without its contact is a deletion
    in Parley still to be made in the mailbox."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    item_id = models.CharField(max_length=512)
    change_key = models.CharField(max_length=512)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "person"], name="one_mailbox_link"),
            models.UniqueConstraint(fields=["owner", "item_id"], name="one_link_per_item"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} -> {self.person} in the mailbox"
