import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import ChannelKind, NotificationStatus, StaffEventKind, StaffRole, WebhookPayloadFormat
from .webhook_messages import webhook_message_id

code_validator = RegexValidator(r"^[a-z0-9][a-z0-9_-]{0,63}$", "Use lower-case letters, digits, '-' and '_'.")


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ActorStampedModel(models.Model):
    """A record of something someone did: who (``Actor.type`` and ``name``) and when."""

    actor_type = models.CharField(max_length=16)
    actor_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


def unique_when_given(*fields: str, name: str) -> models.UniqueConstraint:
    """``fields`` unique together among the rows whose last one (a client's key or external id,
    blank when the client sent none) is given: blank ones never collide."""
    return models.UniqueConstraint(fields=list(fields), condition=~Q(**{fields[-1]: ""}), name=name)


class Channel(TimeStampedModel):
    """Where orders come from. ``ship_from_stores`` is the channel's routing policy override:
    a marketplace that must ship only from warehouses sets it to False."""

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    currency = models.CharField(max_length=3)
    ship_from_stores = models.BooleanField(
        default=True, help_text="May stores ship this channel's orders (ship-from-store)?"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Customer(TimeStampedModel):
    """One person across every channel (unified customer)."""

    email = models.EmailField(max_length=254, blank=True, default="")
    email_normalized = models.CharField(max_length=254, blank=True, default="", db_index=True)
    phone = models.CharField(max_length=32, blank=True, default="")
    phone_normalized = models.CharField(max_length=32, blank=True, default="", db_index=True)
    name = models.CharField(max_length=200, blank=True, default="")
    language = models.CharField(max_length=8, default="en")
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["email_normalized"],
                condition=~models.Q(email_normalized=""),
                name="customer_unique_email",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or f"customer {self.pk}"


class ChannelCustomerRef(models.Model):
    """A channel's own id for a customer (a marketplace buyer id, a loyalty number ...)."""

    # indexed by channel_customer_ref_unique (channel, external_id)
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="customer_refs", db_index=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="channel_refs")
    external_id = models.CharField(max_length=128)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="channel_customer_ref_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.external_id}"


def generate_key(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    # Keys are 256-bit random values, so one SHA-256 is enough (no dictionary to attack).
    return hashlib.sha256(key.encode()).hexdigest()


class ApiClient(TimeStampedModel):
    """A channel's integration (storefront, app, POS, marketplace connector). The key is stored hashed."""

    name = models.CharField(max_length=200, unique=True)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="api_clients")
    key_prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} → {self.channel.code}"


class StaffProfile(TimeStampedModel):
    """Role and locations of a staff user; the API token is stored hashed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    role = models.CharField(max_length=16, choices=StaffRole.choices)
    # The locations an associate works at live on inventory.Location.staff (related_name
    # "locations"), so that imports and migrations run one way: inventory -> oms.
    token_prefix = models.CharField(max_length=12, blank=True, default="", editable=False)
    token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.role})"


class StaffEvent(models.Model):
    """One row per change of a staff member (created, updated, deactivated, token rotated), with who
    made it: the audit trail of ``/api/v1/staff`` and ``create_staff``."""

    staff = models.ForeignKey(StaffProfile, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=StaffEventKind.choices)
    changes = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder, help_text="Each changed field: [before, after]."
    )
    actor_type = models.CharField(max_length=16)
    actor_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.staff_id} {self.kind}"


# --- Events: the transactional outbox --------------------------------------------------------------


class OutboxEvent(models.Model):
    """One domain event, written by ``oms.events.publish`` in the transaction of the change that
    caused it. Dispatched to the after-commit subscribers once that transaction commits (and then
    marked ``dispatched_at``); the relay (``oms.tasks.outbox_relay``) re-dispatches any row a dead
    process or a lost broker left undispatched, so every event is delivered at least once."""

    topic = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # Set in Python (not by the database) so that publish knows it without reading the row back.
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Dispatches tried (after commit, relay).")
    last_error = models.TextField(blank=True, default="")
    retry_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The relay leaves the event alone until then (while it holds it, or after a failure).",
    )

    class Meta:
        ordering = ["pk"]
        indexes = [
            # The relay's scan: only the (few) undispatched rows, oldest first.
            models.Index(
                fields=["created_at"], condition=Q(dispatched_at__isnull=True), name="outbox_pending_idx"
            ),
            # The purge of old dispatched rows.
            models.Index(fields=["created_at"], name="outbox_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.topic}"


# --- Webhooks -------------------------------------------------------------------------------------


class WebhookEndpoint(TimeStampedModel):
    """An integrator's URL that receives signed events (docs/webhooks.md). The secret is stored
    because every delivery is signed with it; it is shown once, when the endpoint is created or
    its secret rotated, and never again. After a rotation the previous secret signs too (a second
    ``webhook-signature``) until ``previous_secret_expires_at``."""

    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text='Topics delivered here; "*" for every topic.')
    payload_format = models.CharField(
        max_length=16,
        choices=WebhookPayloadFormat.choices,
        default=WebhookPayloadFormat.CLOUDEVENTS,
        help_text="The body sent: a CloudEvents envelope, or the legacy document (endpoints from before).",
    )
    secret = models.CharField(max_length=200, editable=False)
    previous_secret = models.CharField(max_length=200, blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Until then the secret replaced by the last rotation signs too."
    )
    secret_rotated_at = models.DateTimeField(null=True, blank=True)

    # What the API and the admin show of an endpoint (never a secret).
    SHOWN_FIELDS = (
        "url",
        "events",
        "payload_format",
        "active",
        "failure_count",
        "disabled_at",
        "secret_rotated_at",
        "previous_secret_expires_at",
        "created_at",
    )
    active = models.BooleanField(default=True)
    failure_count = models.PositiveIntegerField(
        default=0, help_text="Consecutive failed attempts; reset by a success."
    )
    disabled_at = models.DateTimeField(null=True, blank=True, help_text="Disabled after repeated failures.")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a delivery at ``now``, oldest first: the previous one while its
        grace period lasts, then the current one."""
        expires = self.previous_secret_expires_at
        in_grace = bool(self.previous_secret) and expires is not None and now < expires
        return [self.previous_secret, self.secret] if in_grace else [self.secret]


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one endpoint (the delivery log)."""

    # indexed by webhook_delivery_endpoint_idx (endpoint, id)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    delivery_id = models.UUIDField(help_text="X-OMS-Delivery: the same for every attempt of a delivery.")
    event_id = models.PositiveBigIntegerField(help_text="The outbox event id (the body's 'id').")
    topic = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder, help_text="The body sent.")
    attempt = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.CharField(max_length=1000, blank=True, default="", help_text="An excerpt.")
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="Set when the receiver said 2xx.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When the retry is due.")
    created_at = models.DateTimeField(auto_now_add=True)

    # What the delivery log shows of an attempt after its identity (the admin's and the API's).
    RESULT_FIELDS = (
        "status_code",
        "response_body",
        "error",
        "duration_ms",
        "delivered_at",
        "next_attempt_at",
        "created_at",
        "payload",
    )

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "id"], name="webhook_delivery_endpoint_idx"),
            models.Index(fields=["delivery_id"], name="webhook_delivery_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.event_id} → {self.endpoint_id} (attempt {self.attempt})"

    @property
    def succeeded(self) -> bool:
        return self.delivered_at is not None

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header (and CloudEvents ``id``) the attempt carried."""
        return webhook_message_id(self.event_id)


# --- Customer notifications -----------------------------------------------------------------------


class NotificationLog(models.Model):
    """One customer e-mail for one event. The unique key (topic, event, recipient) is the claim that
    makes a redelivered notification task send nothing twice."""

    topic = models.CharField(max_length=64)
    event_id = models.PositiveBigIntegerField()
    recipient = models.CharField(max_length=254, blank=True, default="")
    template = models.CharField(max_length=100)
    language = models.CharField(max_length=8)
    order_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=NotificationStatus.choices)
    subject = models.CharField(max_length=300, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "event_id", "recipient"], name="notification_once_per_event_recipient"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} → {self.recipient or '(no e-mail)'} ({self.status})"


# --- Loyalty (its own package, oms/loyalty; its models belong to this app) ----------------------------

from .loyalty.models import LoyaltyAccount as LoyaltyAccount  # noqa: E402
from .loyalty.models import LoyaltyEntry as LoyaltyEntry  # noqa: E402
from .loyalty.models import LoyaltyRule as LoyaltyRule  # noqa: E402
