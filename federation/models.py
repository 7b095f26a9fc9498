"""Federation state: who an external person is on XMPP, what waits to be sent, subscriptions."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class XmppAddress(models.Model):
    """The bare JID of an external person (a Person with is_external), created on first contact."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="xmpp_address"
    )
    jid = models.CharField(max_length=1024, unique=True, help_text="Bare JID, normalised.")
    domain = models.CharField(max_length=255, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "XMPP address"
        verbose_name_plural = "XMPP addresses"

    def __str__(self) -> str:
        return self.jid


class OutboundMessage(models.Model):
    """A message a Parley person sent to an external person, until the gateway hands it to the
    XMPP server (sent_at) or gives up on it (failed_at, error).

    Written in the transaction that stores the message, so nothing is lost while the gateway or
    the XMPP server is down: the gateway sends every unsent row when it (re)connects.
    """

    message = models.ForeignKey("chat.Message", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # The XMPP stanza id, so an error bounced by the remote side finds its message.
    stanza_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(sent_at__isnull=True, failed_at__isnull=True),
                name="outbound_unsent",
            )
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} to {self.recipient_id}"


class Subscription(models.Model):
    """XMPP presence subscriptions between a Parley person and an external person.

    remote_sees_local: the external person receives the Parley person's presence (after the
    privacy projection). local_sees_remote: the external side approved our subscription.
    is_requested: we asked the external person for their presence (a contact was added).
    """

    local = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    remote = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    remote_sees_local = models.BooleanField(default=False)
    local_sees_remote = models.BooleanField(default=False)
    is_requested = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["local", "remote"], name="one_subscription_pair")
        ]

    def __str__(self) -> str:
        return f"{self.local_id} <-> {self.remote_id}"
