"""Earning, in the transaction of the change that pays (imports stay one way: orders publishes,
the kernel listens). ``payment.captured`` (settled capture: its amount, once per payment
transaction) and ``order.completed`` (the total less what points paid, once per order) carry the
order's customer and channel; the channel's rule says which of the two earns. An erased customer's
account gets a new loyalty number (``customer.erased``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms import events

from .choices import LoyaltyTrigger
from .rules import loyalty_rule_for_channel
from .services import loyalty_earn_in_transaction, loyalty_number_forget, loyalty_tender_for_order


def _wanted(payload: dict[str, Any], trigger: str) -> bool:
    if not payload.get("customer_id"):
        return False
    rule = loyalty_rule_for_channel(payload.get("channel_id"))
    return rule is not None and rule.trigger == trigger


# Money that earned once already: an exchange is paid by the return's value (store credit).
_EARNED_ALREADY = frozenset({"exchange_credit"})


def _captured(topic: str, payload: dict[str, Any]) -> None:
    if payload.get("payment_method") in _EARNED_ALREADY or not _wanted(payload, LoyaltyTrigger.CAPTURE):
        return
    loyalty_earn_in_transaction(
        customer_id=payload["customer_id"],
        channel_id=payload["channel_id"],
        amount=Decimal(payload["amount"]),
        currency=payload["currency"],
        reference=f"capture:{payload['transaction_id']}",
        trigger=LoyaltyTrigger.CAPTURE,
        order_id=payload["order_id"],
    )


def _completed(topic: str, payload: dict[str, Any]) -> None:
    if not _wanted(payload, LoyaltyTrigger.COMPLETION):
        return
    paid = Decimal(payload["total"]) - loyalty_tender_for_order(order_id=payload["order_id"])
    loyalty_earn_in_transaction(
        customer_id=payload["customer_id"],
        channel_id=payload["channel_id"],
        amount=paid,
        currency=payload["currency"],
        reference=f"order:{payload['order_id']}:completion",
        trigger=LoyaltyTrigger.COMPLETION,
        order_id=payload["order_id"],
    )


def _customer_erased(topic: str, payload: dict[str, Any]) -> None:
    # the number a person quoted no longer leads to them; points and ledger stay (money records)
    loyalty_number_forget(customer_id=payload["customer_id"])


def connect() -> None:
    events.subscribe_in_transaction("customer.erased", _customer_erased)
    events.subscribe_in_transaction("payment.captured", _captured)
    events.subscribe_in_transaction("order.completed", _completed)
