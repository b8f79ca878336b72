"""Thin Celery tasks of orders: the idempotency purge and the release of expired cart holds (queue
``routing``), the payment tasks (queue ``sync``), each retried with backoff while the gateway fails
transiently, and the refresh of the co-purchase counts behind the customer page's suggestions
(queue ``sync``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from . import services
from .services.payment_adjust import payment_adjust_for_change
from .services.payments import (
    PaymentRetry,
    payment_authorize,
    payment_capture_shipment,
    payment_transaction_give_up,
    payment_transaction_send,
    payment_void_remainder,
)
from .suggestions import product_affinity_refresh

logger = logging.getLogger(__name__)


@shared_task(name="orders.tasks.purge_idempotency_records", acks_late=True)
def purge_idempotency_records() -> int:
    """Beat, hourly: forget idempotency keys past their 24 hours."""
    return services.idempotency_records_purge()


@shared_task(name="orders.tasks.refresh_product_affinity", acks_late=True)
def refresh_product_affinity() -> int:
    """Beat: rebuild the co-purchase counts (one INSERT ... SELECT); answers the pairs written.
    Idempotent: a rerun writes the same counts from the same orders."""
    return product_affinity_refresh()


@shared_task(name="orders.tasks.release_expired_cart_holds", acks_late=True)
def release_expired_cart_holds() -> int:
    """Beat, every minute: give the units of expired cart holds back to sale."""
    return services.cart_holds_expire()


def _with_retries(task: Task, call: Callable[..., Any], **kwargs: Any) -> None:
    """Run one payment service; on ``PaymentRetry`` retry the task after 1, 2, 4 ... x
    ``OMS_PAYMENT_RETRY_SECONDS``, and once the retries are spent settle its pending row failed."""
    try:
        call(**kwargs)
    except PaymentRetry as exc:
        retries = task.request.retries
        if retries >= settings.OMS_PAYMENT_MAX_RETRIES:
            logger.warning("%s gives up after %s retries: %s", task.name, retries, exc)
            if exc.transaction_id is not None:
                payment_transaction_give_up(transaction_id=exc.transaction_id, error=str(exc))
            return
        # a new message counting the retry (what ``task.retry`` sends; unlike it, also the same
        # under CELERY_TASK_EAGER_PROPAGATES, where an eager ``retry`` escapes to the caller)
        task.apply_async(
            kwargs=dict(task.request.kwargs or {}),
            countdown=settings.OMS_PAYMENT_RETRY_SECONDS * 2**retries,
            retries=retries + 1,
        )


@shared_task(bind=True, name="orders.tasks.payment_authorize", acks_late=True, max_retries=None)
def payment_authorize_task(self: Task, *, order_id: int) -> None:
    """After placement: authorise the order's total (a no-op once authorised)."""
    _with_retries(self, payment_authorize, order_id=order_id)


@shared_task(bind=True, name="orders.tasks.payment_authorize_orders", acks_late=True)
def payment_authorize_orders(self: Task, *, order_ids: list[int]) -> None:
    """Authorise the orders placed since the last marking round; each one that must wait gets a
    task of its own (``payment_authorize``), so one slow gateway answer holds back no other."""
    for order_id in order_ids:
        try:
            payment_authorize(order_id=order_id)
        except PaymentRetry:
            payment_authorize_task.apply_async(
                kwargs={"order_id": order_id}, countdown=settings.OMS_PAYMENT_RETRY_SECONDS
            )


@shared_task(bind=True, name="orders.tasks.payment_capture", acks_late=True, max_retries=None)
def payment_capture(self: Task, *, order_id: int, fulfillment_order_id: int, lines: dict[str, int]) -> None:
    """A fulfilment order shipped or was handed over: capture its value once."""
    units = {int(line_id): quantity for line_id, quantity in lines.items()}
    _with_retries(
        self,
        payment_capture_shipment,
        order_id=order_id,
        fulfillment_order_id=fulfillment_order_id,
        lines=units,
    )


@shared_task(bind=True, name="orders.tasks.payment_void", acks_late=True, max_retries=None)
def payment_void(self: Task, *, order_id: int) -> None:
    """Nothing left open on the order: void what no unit needs of the authorisation."""
    _with_retries(self, payment_void_remainder, order_id=order_id)


@shared_task(bind=True, name="orders.tasks.payment_send", acks_late=True, max_retries=None)
def payment_send(self: Task, *, transaction_id: int) -> None:
    """A pending ledger row (a refund): send it to the gateway and settle it."""
    _with_retries(self, payment_transaction_send, transaction_id=transaction_id)


@shared_task(bind=True, name="orders.tasks.payment_adjust", acks_late=True, max_retries=None)
def payment_adjust(self: Task, *, order_id: int, revision: int) -> None:
    """The order was changed: authorise the increase of its total, or void what it no longer needs."""
    _with_retries(self, payment_adjust_for_change, order_id=order_id, revision=revision)
