"""Federation state: who an external person is on XMPP, and presence subscriptions.

What waits to be sent is chat's (chat.models.OutboundDelivery): the gateway only calls chat."""

from django.conf import settings
from django.db import models


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
