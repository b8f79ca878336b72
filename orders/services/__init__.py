"""Writes of the orders app, by responsibility: placing an order (``placement``, with
``checks``, ``reservations`` and ``idempotency``), ``cancel``, ``changes`` (after placement),
``holds``, price lists (``price_lists``), carts (``carts``, ``cart_holds``), the order status rule
(``status``), the money side (``payments``: authorise, capture, void and refund through the
gateway) and the orders' part of erasing a customer (``erasure``). Customers themselves are the
kernel's (``oms.customers``); their names are re-exported here for existing callers.

Locking policy: see ``orders.services.locks``."""

from oms.customers import CustomerInput, check_customer, customer_erase, customer_resolve

from .cancel import order_cancel, order_cancel_in_transaction
from .cart_holds import HoldInput, cart_hold_place, cart_hold_release, cart_holds_expire
from .carts import CartLineInput, cart_checkout, cart_open, cart_update
from .changes import (
    QUEUED,
    STARTED,
    UNROUTED,
    ChangeApplied,
    ChangeInput,
    ChangeOperation,
    ChangeResult,
    WorkStateColumn,
    change_apply_register,
    change_request_confirm,
    change_request_refuse,
    change_work_register,
    order_change,
)
from .checks import MAX_LINES
from .holds import order_hold_place, order_hold_place_in_transaction, order_hold_release
from .idempotency import IdempotencyClaim, idempotency_records_purge, idempotency_request_hash
from .inputs import LineInput, OrderInput, PaymentInput, PlacementResult, Renderer
from .loyalty import order_points_burn
from .payments import (
    PaymentRetry,
    RefundRoom,
    payment_authorize,
    payment_capture_shipment,
    payment_refund_begin,
    payment_refund_room,
    payment_transaction_give_up,
    payment_transaction_send,
    payment_void_remainder,
)
from .placement import order_number_for, order_place, order_place_in_transaction
from .price_lists import (
    EntryInput,
    PriceListInput,
    price_list_create,
    price_list_entries_upsert,
)
from .reservations import (
    RESERVE_ATTEMPTS,
    reservations_of_plan,
    reservations_release,
    reserve_for_needs,
    sourcing_request_for,
    stock_lines_for,
    stock_lines_of,
)
from .reserve_in_store import ReserveItem, reserve_in_store_channel, reserve_in_store_place
from .status import order_has_unrouted, order_status_derive, order_status_set

__all__ = [
    "MAX_LINES",
    "QUEUED",
    "RESERVE_ATTEMPTS",
    "STARTED",
    "UNROUTED",
    "CartLineInput",
    "ChangeApplied",
    "ChangeInput",
    "ChangeOperation",
    "ChangeResult",
    "CustomerInput",
    "EntryInput",
    "HoldInput",
    "IdempotencyClaim",
    "LineInput",
    "OrderInput",
    "PaymentInput",
    "PaymentRetry",
    "PlacementResult",
    "PriceListInput",
    "RefundRoom",
    "Renderer",
    "ReserveItem",
    "WorkStateColumn",
    "cart_checkout",
    "cart_hold_place",
    "cart_hold_release",
    "cart_holds_expire",
    "cart_open",
    "cart_update",
    "change_apply_register",
    "change_request_confirm",
    "change_request_refuse",
    "change_work_register",
    "check_customer",
    "customer_erase",
    "customer_resolve",
    "idempotency_records_purge",
    "idempotency_request_hash",
    "order_cancel",
    "order_cancel_in_transaction",
    "order_change",
    "order_has_unrouted",
    "order_hold_place",
    "order_hold_place_in_transaction",
    "order_hold_release",
    "order_number_for",
    "order_place",
    "order_place_in_transaction",
    "order_points_burn",
    "order_status_derive",
    "order_status_set",
    "payment_authorize",
    "payment_capture_shipment",
    "payment_refund_begin",
    "payment_refund_room",
    "payment_transaction_give_up",
    "payment_transaction_send",
    "payment_void_remainder",
    "price_list_create",
    "price_list_entries_upsert",
    "reservations_of_plan",
    "reservations_release",
    "reserve_for_needs",
    "reserve_in_store_channel",
    "reserve_in_store_place",
    "sourcing_request_for",
    "stock_lines_for",
    "stock_lines_of",
]
