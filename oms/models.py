import hashlib
import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from .choices import ChannelKind, StaffRole

code_validator = RegexValidator(r"^[a-z0-9][a-z0-9_-]{0,63}$", "Use lower-case letters, digits, '-' and '_'.")


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


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

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="customer_refs")
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
