"""People, departments and API tokens."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.utils.translation import gettext_lazy as _


def language_choices() -> list[tuple[str, str]]:
    return list(settings.LANGUAGES)


class Department(models.Model):
    name = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(AbstractUser):
    """Everyone who signs in or is talked to: employees, and external people from federation."""

    display_name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    company = models.CharField(max_length=200, blank=True)
    work_phone = models.CharField(max_length=50, blank=True)
    mobile_phone = models.CharField(max_length=50, blank=True)
    home_phone = models.CharField(max_length=50, blank=True)
    photo = models.FileField(upload_to="photos/", blank=True)
    is_external = models.BooleanField(
        default=False, help_text="Someone from another organisation (federation)."
    )
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    directory_dn = models.CharField(
        max_length=500,
        blank=True,
        db_index=True,
        help_text="The LDAP / Active Directory entry this person is synced from (empty: local).",
    )
    # Empty: the browser's Accept-Language, else the organisation's default (directory/locale.py).
    language = models.CharField(_("language"), max_length=10, blank=True, choices=language_choices)
    # An IANA zone ("Asia/Seoul"); empty: the organisation's default for pages, the browser's
    # zone in the client. Contact cards show the person's local time in it.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    class Meta:
        ordering = ["username"]
        verbose_name = "person"
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 is stored, the plain text is shown once."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters, to tell tokens apart.")
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.person.username})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class FederationPartner(models.Model):
    """An XMPP domain Parley federates with (allowed) or refuses (blocked).

    Domains not listed are refused unless open federation is on
    (settings.PARLEY_XMPP_OPEN_FEDERATION); a blocked domain is refused even then.
    """

    class Status(models.TextChoices):
        ALLOWED = "allowed"
        BLOCKED = "blocked"

    domain = models.CharField(
        max_length=255, unique=True, help_text="The XMPP domain, e.g. partner.example (lower case)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ALLOWED)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return f"{self.domain} ({self.status})"


class DirectoryGroup(models.Model):
    """A Django group whose members come from an LDAP / Active Directory group.

    The directory sync sets its members exactly; groups without this link are local and the
    sync never touches them. Linking "Compliance" or "Supervision" makes the directory decide
    who holds those roles; category walls, barriers and archiving policies name groups too.
    """

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="directory_link")
    dn = models.CharField(max_length=500, unique=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["group__name"]

    def __str__(self) -> str:
        return f"{self.group.name} ({self.dn})"


class DirectoryChange(models.Model):
    """One change a directory sync made (the sync's audit trail). Append-only.

    changes holds {field: [before, after]} for updates, member usernames added and removed for
    groups; run is shared by every change of one sync.
    """

    class Action(models.TextChoices):
        PERSON_CREATE = "person.create"
        PERSON_UPDATE = "person.update"
        PERSON_DEACTIVATE = "person.deactivate"
        PERSON_REACTIVATE = "person.reactivate"
        GROUP_CREATE = "group.create"
        GROUP_MEMBERS = "group.members"

    run = models.UUIDField(db_index=True)
    occurred_at = models.DateTimeField()
    action = models.CharField(max_length=30, choices=Action.choices)
    target = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["target"])]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"


class MailboxSync(models.Model):
    """What Parley keeps in a person's own mailbox (their choice, within the administrator's
    switches PARLEY_CONVERSATION_HISTORY and PARLEY_CONTACT_SYNC), and how the last runs went.

    history_checked_until: conversation-days before this moment's day are written; the day it
    falls in is looked at again on the next run (a later message replaces that day's item).
    """

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="mailbox_sync")
    keeps_conversation_history = models.BooleanField(
        default=False,
        help_text="Write each conversation-day to the Conversation History folder of the mailbox.",
    )
    syncs_contacts = models.BooleanField(
        default=False, help_text="Keep Parley contacts and a contacts folder of the mailbox alike."
    )
    history_checked_until = models.DateTimeField(null=True, blank=True)
    contacts_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "mailbox sync"

    def __str__(self) -> str:
        return f"mailbox of {self.person}"


class OrganisationSettings(models.Model):
    """The organisation's defaults, one row (pk 1), set by an administrator in the admin."""

    default_language = models.CharField(
        _("default language"),
        max_length=10,
        choices=language_choices,
        default="en",
        help_text=_("For people who chose no language and whose browser asks for none Parley has."),
    )
    default_time_zone = models.CharField(
        _("default time zone"),
        max_length=64,
        default="UTC",
        help_text=_("An IANA time zone such as Asia/Seoul or Asia/Taipei."),
    )

    class Meta:
        verbose_name = _("organisation settings")
        verbose_name_plural = _("organisation settings")

    def __str__(self) -> str:
        return str(_("Organisation settings"))
