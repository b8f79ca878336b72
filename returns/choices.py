from django.db import models


class ReturnStatus(models.TextChoices):
    """The life of a return (RMA); the allowed moves are ``RETURN_TRANSITIONS`` in models.py."""

    REQUESTED = "requested", "Requested (waiting for the units)"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    REFUNDED = "refunded", "Refunded"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class ReturnMethod(models.TextChoices):
    IN_STORE = "in_store", "Brought to a store"
    MAIL = "mail", "Sent by mail"


class ReturnReason(models.TextChoices):
    """Why the customer returns a unit (reportable in the admin)."""

    WRONG_SIZE = "wrong_size", "Wrong size"
    WRONG_ITEM = "wrong_item", "Wrong item sent"
    DAMAGED = "damaged", "Arrived damaged"
    DEFECTIVE = "defective", "Defective"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    CHANGED_MIND = "changed_mind", "Changed mind"
    LATE_DELIVERY = "late_delivery", "Arrived too late"
    OTHER = "other", "Other"


class Disposition(models.TextChoices):
    """What happens to a received unit: back on sale at the receiving location, or written off."""

    RESTOCK = "restock", "Restock (sellable)"
    DAMAGED = "damaged", "Damaged (not sellable)"


class RefundMethod(models.TextChoices):
    ORIGINAL_PAYMENT = "original_payment", "Original payment"
    STORE_CREDIT = "store_credit", "Store credit"
    CASH = "cash", "Cash"
