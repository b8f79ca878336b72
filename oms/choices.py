from django.db import models


class ChannelKind(models.TextChoices):
    WEB = "web", "Web storefront"
    APP = "app", "Mobile app"
    POS = "pos", "Store POS"
    CALL_CENTER = "call_center", "Call centre"
    MARKETPLACE = "marketplace", "Marketplace"
    SOCIAL = "social", "Social commerce"


# In-person channels may look up any order (to serve a return or an exchange): design.md, Guarantees.
IN_PERSON_CHANNEL_KINDS = frozenset({ChannelKind.POS, ChannelKind.CALL_CENTER})


class StaffRole(models.TextChoices):
    MANAGER = "manager", "Manager"
    ASSOCIATE = "associate", "Store associate"


class StaffEventKind(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    DEACTIVATED = "deactivated", "Deactivated"
    REACTIVATED = "reactivated", "Reactivated"
    TOKEN_ROTATED = "token_rotated", "Token rotated"


class ActorType(models.TextChoices):
    STAFF = "staff", "Staff"
    CHANNEL = "channel", "Channel API client"
    SYSTEM = "system", "System"


class NotificationStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will be retried)"
    SKIPPED = "skipped", "Skipped (no e-mail address)"


class WebhookPayloadFormat(models.TextChoices):
    """What a webhook endpoint receives: CloudEvents 1.0 envelopes (new endpoints) or the legacy
    ``{"id", "topic", "created_at", "data"}`` document (endpoints registered before; deprecated)."""

    CLOUDEVENTS = "cloudevents", "CloudEvents 1.0 (structured JSON)"
    LEGACY = "legacy", "Legacy JSON (deprecated)"
