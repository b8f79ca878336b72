from oms.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from oms.errors import CustomerNotFound as CustomerNotFound  # a kernel error now (customers are oms's)


class OrderNotFound(NotFound):
    default_code = "order_not_found"
    default_message = "Order not found."


class IdempotencyKeyRequired(InvalidInput):
    status_code = 400
    default_code = "idempotency_key_required"
    default_message = "Channel clients must send an Idempotency-Key header with POST /orders."


class IdempotencyKeyReused(InvalidInput):
    default_code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with a different request body."


class RequestInProgress(Conflict):
    default_code = "request_in_progress"
    default_message = "A request with this Idempotency-Key is still being processed; retry shortly."


class DuplicateExternalId(Conflict):
    default_code = "duplicate_external_id"
    default_message = "The channel already sent an order with this external_id."


class OrderNotCancellable(Conflict):
    default_code = "order_not_cancellable"
    default_message = "The order can no longer be cancelled."


class NoActiveHold(Conflict):
    default_code = "no_active_hold"
    default_message = "The order has no active hold."


class OrderNotChangeable(Conflict):
    default_code = "order_not_changeable"
    default_message = "The order can no longer be changed."


class FulfillmentInProgress(Conflict):
    default_code = "fulfillment_in_progress"
    default_message = "A location has started work on these units; the change cannot be applied."


class UnitsAlreadyFulfilled(Conflict):
    default_code = "units_already_fulfilled"
    default_message = "These units were shipped or collected already; return them instead."


class PriceMismatch(InvalidInput):
    default_code = "price_mismatch"
    default_message = "Some lines are priced below the channel's price list."


class PriceUnavailable(InvalidInput):
    default_code = "price_unavailable"
    default_message = "The channel has no price for some SKUs."


class PriceListNotFound(NotFound):
    default_code = "price_list_not_found"
    default_message = "Price list not found."


class CartNotFound(NotFound):
    default_code = "cart_not_found"
    default_message = "Cart not found."


class CartNotVisible(PermissionDenied):
    default_code = "cart_not_visible"
    default_message = "This channel may not see this cart."


class CartCheckedOut(Conflict):
    default_code = "cart_checked_out"
    default_message = "The cart was checked out already."


class CartCustomerConflict(Conflict):
    default_code = "cart_customer_conflict"
    default_message = "The cart belongs to another customer, or the customer has another open cart."


class CartEmpty(Conflict):
    default_code = "empty_cart"
    default_message = "The cart has no lines."
