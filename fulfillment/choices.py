from django.db import models


class FulfillmentStatus(models.TextChoices):
    AWAITING_TRANSFER = "awaiting_transfer", "Awaiting transfer (ship-to-store)"
    PENDING = "pending", "Pending (sent to the location)"
    ACCEPTED = "accepted", "Accepted"
    PICKED = "picked", "Picked"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    READY_FOR_PICKUP = "ready_for_pickup", "Ready for pickup"
    PICKED_UP = "picked_up", "Picked up"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired (not collected)"
    CANCELLED = "cancelled", "Cancelled"
