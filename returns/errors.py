from oms.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class ReturnNotFound(NotFound):
    default_code = "return_not_found"
    default_message = "Return not found."


class LocationNotAcceptingReturns(InvalidInput):
    default_code = "location_not_accepting_returns"
    default_message = "This location does not accept returns."


class LocationNotPermitted(PermissionDenied):
    default_code = "location_not_permitted"
    default_message = "You may act only at your own locations."


class OrderLineNotInOrder(InvalidInput):
    default_code = "order_line_not_in_order"
    default_message = "A returned line does not belong to this order."


class ReturnLineNotInReturn(InvalidInput):
    default_code = "return_line_not_in_return"
    default_message = "A received line does not belong to this return."


class ReturnExceedsReturnable(Conflict):
    default_code = "return_exceeds_returnable"
    default_message = "More units than were fulfilled and not yet returned."


class ReturnWindowExpired(Conflict):
    default_code = "return_window_expired"
    default_message = "The return window has passed."


class WindowOverrideNotPermitted(PermissionDenied):
    default_code = "window_override_not_permitted"
    default_message = "Only a manager may accept a return past its window."


class ReceiveExceedsOutstanding(Conflict):
    default_code = "receive_exceeds_outstanding"
    default_message = "More units than the return still expects."


class RefundExceedsPaid(Conflict):
    default_code = "refund_exceeds_paid"
    default_message = "The refund is more than was paid for the order minus earlier refunds."


class ExchangeNotPossible(InvalidInput):
    default_code = "exchange_not_possible"
    default_message = "The exchange order cannot be placed."
