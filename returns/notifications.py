"""Customer e-mails about returns: return received and refund issued.

Registered against the topic names (``return.received``, ``refund.created``) in
``ReturnsConfig.ready`` through the kernel's registry; each sent e-mail lands on the order's
timeline through orders' ``order_email_sent_event``. The models are read through the app registry
and defensively (attributes with defaults), so this module does not break while the returns app
changes: a payload whose rows cannot be read simply sends nothing."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.db import models

from oms.notifications import Notification, notification_register
from orders.models import Order
from orders.notifications import customer_recipient, line_context, order_context, order_email_sent_event

logger = logging.getLogger(__name__)


def _model(name: str) -> type[models.Model] | None:
    try:
        return apps.get_model("returns", name)
    except LookupError:
        return None


def _order(order_id: Any) -> Order | None:
    return (
        Order.objects.select_related("customer", "pickup_location").filter(pk=order_id).first()
        if order_id
        else None
    )


def _row_and_order(
    name: str, related: str, pk: Any, payload: dict[str, Any]
) -> tuple[models.Model, Order] | None:
    """The returns row of model ``name`` and primary key ``pk`` (with ``related`` loaded) and its order
    (the row's, else the payload's ``order_id``); None if the model, the row or the order is missing."""
    model = _model(name)
    row = model._default_manager.select_related(related).filter(pk=pk).first() if model else None
    if row is None:
        return None
    order = _order(getattr(row, "order_id", None) or payload.get("order_id"))
    return None if order is None else (row, order)


def _notification(order: Order, template: str, **extra: Any) -> Notification:
    recipient, language = customer_recipient(order.customer)
    return Notification(
        recipient=recipient,
        template=template,
        context={**order_context(order), **extra},
        language=language,
        order_id=order.pk,
    )


def return_received_build(topic: str, payload: dict[str, Any]) -> Notification | None:
    """return.received: the units received so far, and whether the return is complete."""
    line_model = _model("ReturnLine")
    found = _row_and_order("Return", "location", payload.get("return_id"), payload) if line_model else None
    if line_model is None or found is None:
        return None
    rma, order = found
    lines = list(line_model._default_manager.filter(rma=rma).select_related("order_line").order_by("pk"))
    received = [
        # a model from the app registry (see above): its fields are not typed
        line_context(line.order_line, quantity=line.quantity_received)  # type: ignore[attr-defined]
        for line in lines
        if getattr(line, "quantity_received", 0)
    ]
    complete = all(getattr(line, "quantity_received", 0) >= getattr(line, "quantity", 0) for line in lines)
    location = getattr(rma, "location", None)
    return _notification(
        order,
        "return_received",
        return_number=getattr(rma, "number", "") or payload.get("number", ""),
        location_name=getattr(location, "name", "") if location is not None else "",
        lines=received,
        complete=complete,
    )


def refund_issued_build(topic: str, payload: dict[str, Any]) -> Notification | None:
    """refund.created: the amount, and where the money goes."""
    found = _row_and_order("Refund", "rma", payload.get("refund_id"), payload)
    if found is None:
        return None
    refund, order = found
    rma = getattr(refund, "rma", None)
    return _notification(
        order,
        "refund_issued",
        amount=getattr(refund, "amount", payload.get("amount")),
        currency=getattr(refund, "currency", "") or payload.get("currency") or order.currency,
        refund_method=getattr(refund, "method", "") or payload.get("method", ""),
        return_number=getattr(rma, "number", "") if rma is not None else "",
    )


def connect() -> None:
    if not apps.is_installed("returns"):
        return
    notification_register("return.received", return_received_build, on_sent=order_email_sent_event)
    notification_register("refund.created", refund_issued_build, on_sent=order_email_sent_event)
