"""Writes of returns: create (with an optional exchange), receive, refund, cancel, close.

Locking policy (the same as orders and fulfillment): every top-level service is one durable
transaction that locks the ORIGINAL order row first (``select_for_update``), then the return row,
then stock rows (inventory services). The order row lock serialises everything that reads "what is
still returnable" or "what is still refundable" for that order and then writes: two returns of the
same units, or concurrent refunds, wait for each other, so units are never returned twice and the
refunds of an order never add up to more than was paid.

Money: a return's ``value`` is what its units were paid (each line's ``line_total`` pro rata, tax
included). An order may refund at most ``order.total`` minus its earlier refunds minus the credits
applied to its exchange orders (``order_refund_summary``).

Exchanges: ``exchange_lines`` place a new order on the returning channel through the orders app's
placement (the same validation, sourcing and reservation as any order), in the return's own
transaction: if the new order cannot be placed the whole return fails and nothing is written. It is
a pickup at the receiving store when that store offers pickup and has the units, otherwise it ships
to the original order's address. The return's value (up to what is still refundable) pays for it:
``exchange_credit`` is the part applied, ``exchange_balance`` = exchange total - the return's value
(positive: the customer pays the difference; negative: that much refund is due, recorded with
``return_refund``).
"""

from returns.services.common import (
    MAX_LINES,
    ExchangeLineInput,
    ReceiveLineInput,
    RefundCreated,
    ReturnCreated,
    ReturnLineInput,
)
from returns.services.create import return_create
from returns.services.lifecycle import return_cancel, return_close
from returns.services.receive import return_receive
from returns.services.refund import return_refund

__all__ = [
    "MAX_LINES",
    "ExchangeLineInput",
    "ReceiveLineInput",
    "RefundCreated",
    "ReturnCreated",
    "ReturnLineInput",
    "return_cancel",
    "return_close",
    "return_create",
    "return_receive",
    "return_refund",
]
