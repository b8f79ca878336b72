from django.db import models


class OrderStatus(models.TextChoices):
    RECEIVED = "received", "Received (stock reserved, waiting for routing)"
    ALLOCATED = "allocated", "Allocated"
    IN_FULFILLMENT = "in_fulfillment", "In fulfilment"
    COMPLETED = "completed", "Completed"
    BACKORDERED = "backordered", "Backordered"
    ON_HOLD = "on_hold", "On hold"
    CANCELLED = "cancelled", "Cancelled"
    PARTIALLY_CANCELLED = "partially_cancelled", "Partially cancelled"


class FulfillmentMethod(models.TextChoices):
    SHIP = "ship", "Ship to an address"
    PICKUP = "pickup", "Pick up in store (BOPIS)"


class HoldReason(models.TextChoices):
    FRAUD_REVIEW = "fraud_review", "Fraud review"
    PAYMENT = "payment", "Payment"
    ADDRESS = "address", "Address"
    MANUAL = "manual", "Manual"


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", "Held"
    RELEASED = "released", "Released"
    CONSUMED = "consumed", "Consumed (shipped or collected)"


class OrderEventKind(models.TextChoices):
    """Every kind of row on an order's timeline, from every app (one list, so reports can group)."""

    PLACED = "placed", "Placed"
    SOURCED = "sourced", "Sourced"
    BACKORDERED = "backordered", "Units backordered"
    HOLD_PLACED = "hold_placed", "Hold placed"
    HOLD_RELEASED = "hold_released", "Hold released"
    CANCELLED = "cancelled", "Cancelled"
    LINE_CANCELLED = "line_cancelled", "Line cancelled"
    CHANGED = "changed", "Order changed"
    CHANGE_REQUESTED = "change_requested", "Change waiting for a location"
    CHANGE_REFUSED = "change_refused", "Change refused"
    STATUS_CHANGED = "status_changed", "Status changed"
    # routing and fulfilment
    ROUTED = "routed", "Routed"
    REROUTED = "rerouted", "Re-routed"
    ALLOCATED = "allocated", "Allocated"
    BACKORDER_FILLED = "backorder_filled", "Backorder filled"
    FULFILLMENT_ACCEPTED = "fulfillment_accepted", "Fulfilment accepted"
    FULFILLMENT_REJECTED = "fulfillment_rejected", "Fulfilment rejected"
    FULFILLMENT_PICKED = "fulfillment_picked", "Picked"
    FULFILLMENT_PACKED = "fulfillment_packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    READY_FOR_PICKUP = "ready_for_pickup", "Ready for pickup"
    PICKED_UP = "picked_up", "Picked up"
    PICKUP_CODE_REFUSED = "pickup_code_refused", "Wrong pickup code"
    PICKUP_CODE_LOCKED = "pickup_code_locked", "Pickup code locked"
    PICKUP_CODE_REISSUED = "pickup_code_reissued", "New pickup code sent"
    PICKUP_EXPIRED = "pickup_expired", "Pickup expired"
    COMPLETED = "completed", "Completed"
    # returns and money
    RETURN_REQUESTED = "return_requested", "Return requested"
    RETURN_RECEIVED = "return_received", "Return received"
    RETURN_CANCELLED = "return_cancelled", "Return cancelled"
    RETURN_CLOSED = "return_closed", "Return closed"
    REFUND_CREATED = "refund_created", "Refund created"
    PAYMENT_AUTHORIZED = "payment_authorized", "Payment authorised"
    PAYMENT_CAPTURED = "payment_captured", "Payment captured"
    PAYMENT_VOIDED = "payment_voided", "Authorisation voided"
    PAYMENT_REFUNDED = "payment_refunded", "Payment refunded"
    LOYALTY_REDEEMED = "loyalty_redeemed", "Paid with loyalty points"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    EXCHANGE_CREATED = "exchange_created", "Exchange order created"
    # messages
    EMAIL_SENT = "email_sent", "E-mail sent"
    NOTE = "note", "Note"


class PaymentStatus(models.TextChoices):
    """Where an order's payment stands (derived from its amounts after every settled transaction)."""

    PENDING = "pending", "Waiting for authorisation"
    AUTHORIZED = "authorized", "Authorised"
    PARTIALLY_CAPTURED = "partially_captured", "Partially captured"
    CAPTURED = "captured", "Captured"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    VOIDED = "voided", "Voided"
    DECLINED = "declined", "Declined"
    FAILED = "failed", "Capture failed"


class PaymentTransactionKind(models.TextChoices):
    AUTHORIZE = "authorize", "Authorise"
    CAPTURE = "capture", "Capture"
    VOID = "void", "Void"
    REFUND = "refund", "Refund"


class PaymentTransactionStatus(models.TextChoices):
    PENDING = "pending", "Pending (sent to the gateway)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class OrderChangeKind(models.TextChoices):
    """What one operation of an order change does (``OrderChange.kind``)."""

    ADD_LINE = "add_line", "Line added"
    REMOVE_LINE = "remove_line", "Line removed"
    CHANGE_QUANTITY = "change_quantity", "Quantity changed"
    CANCEL_UNITS = "cancel_units", "Units cancelled"
    CHANGE_ADDRESS = "change_address", "Delivery address changed"
    CHANGE_METHOD = "change_method", "Delivery method changed"
    CHANGE_PICKUP_STORE = "change_pickup_store", "Pickup store changed"


class ChangeRequestStatus(models.TextChoices):
    """A change waiting for the locations that work on its units (``OrderChangeRequest``)."""

    PENDING_LOCATION = "pending_location", "Waiting for the location"
    APPLIED = "applied", "Applied"
    REFUSED = "refused", "Refused"


class CartStatus(models.TextChoices):
    OPEN = "open", "Open"
    CHECKED_OUT = "checked_out", "Checked out"


class CartEventKind(models.TextChoices):
    CREATED = "created", "Created"
    RESUMED = "resumed", "Opened on another channel"
    LINE_ADDED = "line_added", "Line added"
    LINE_CHANGED = "line_changed", "Line changed"
    LINE_REMOVED = "line_removed", "Line removed"
    REPRICED = "repriced", "Re-priced"
    ATTACHED = "attached", "Attached to a customer"
    HOLD_PLACED = "hold_placed", "Hold placed"
    HOLD_RELEASED = "hold_released", "Hold released"
    CHECKED_OUT = "checked_out", "Checked out"


class CartHoldStatus(models.TextChoices):
    ACTIVE = "active", "Held"
    RELEASED = "released", "Released"
    CONVERTED = "converted", "Converted into the order's reservations"
