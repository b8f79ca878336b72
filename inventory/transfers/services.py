"""Writes of transfer orders: create (reserve at the source), ship (``transfer_out``), receive
(``transfer_in``, in part, idempotent), cancel (release). Top-level services are durable
transactions; ``transfer_create_for`` composes into a caller's (order placement, ship-to-store).

Locking policy: the transfer row first, then its lines in pk order, then stock rows in pk order (the
stock services). Receipt adds to a line with one conditional UPDATE ``received + n <= shipped``,
backed by the line's CHECK, so two concurrent receipts can never add the same units twice; a
receipt repeated under the same idempotency key finds its ``TransferReceipt`` and changes nothing."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from inventory.choices import MovementKind
from inventory.errors import InsufficientStock, TransferNotFound, TransferOverReceipt
from inventory.models import Location, Product, StockLevel
from inventory.services import (
    StockLine,
    check_quantity,
    stock_adjust,
    stock_consume,
    stock_release,
    stock_reserve,
)
from oms.actors import Actor
from oms.errors import Conflict, InvalidInput, PermissionDenied
from oms.events import publish

from .models import TransferLine, TransferOrder, TransferReceipt, TransferStatus


@dataclass(frozen=True)
class TransferItem:
    """Units of one SKU to move (or to receive)."""

    product: Product
    quantity: int


def transfer_lead_days(location: Location) -> int:
    """Days a transfer from ``location`` takes: its own ``transfer_lead_days``, else the setting."""
    if location.transfer_lead_days is not None:
        return location.transfer_lead_days
    return int(settings.OMS_TRANSFER_LEAD_DAYS)


def transfer_expected_on(source: Location, *, start: datetime.date | None = None) -> datetime.date:
    """The earliest day units sent from ``source`` today (or ``start``) can arrive."""
    return (start or timezone.localdate()) + datetime.timedelta(days=transfer_lead_days(source))


def _require_at(actor: Actor, location: Location, what: str) -> None:
    if not actor.may_act_at(location.pk):
        raise PermissionDenied(
            f"You may not {what} at {location.code}.",
            code="location_not_permitted",
            extra={"location": location.code},
        )


def _reference(transfer: TransferOrder) -> str:
    return f"transfer:{transfer.number}"


def _source_lines(transfer: TransferOrder, quantities: dict[int, int]) -> list[StockLine]:
    """The source's stock rows of ``{product_id: quantity}``, as the stock services take them."""
    levels = StockLevel.objects.filter(location_id=transfer.source_id, product_id__in=quantities)
    by_product = {level.product_id: level.pk for level in levels}
    missing = sorted(set(quantities) - set(by_product))
    if missing:
        raise InsufficientStock(
            "The source location holds none of some SKUs.", extra={"product_ids": missing}
        )
    return [
        StockLine(
            stock_level_id=by_product[pid],
            product_id=pid,
            location_id=transfer.source_id,
            quantity=qty,
        )
        for pid, qty in quantities.items()
    ]


def transfer_create_for(
    *,
    source: Location,
    destination: Location,
    items: Sequence[TransferItem],
    actor: Actor,
    note: str = "",
    order_id: int | None = None,
    order_number: str = "",
) -> TransferOrder:
    """Create a transfer in the caller's transaction and reserve its units at the source (so they are
    not sold meanwhile): InsufficientStock (409) when the source lacks them."""
    if source.pk == destination.pk:
        raise InvalidInput("A transfer needs two different locations.", code="transfer_same_location")
    if not items:
        raise InvalidInput("A transfer needs at least one line.", code="transfer_lines_required")
    quantities: dict[int, int] = {}
    for item in items:
        check_quantity(item.quantity)
        if item.product.pk in quantities:
            raise InvalidInput(
                f"SKU {item.product.sku} is listed twice.",
                code="duplicate_sku",
                extra={"sku": item.product.sku},
            )
        quantities[item.product.pk] = item.quantity
    transfer = TransferOrder.objects.create(
        number=f"TR-NEW-{uuid.uuid4().hex}"[:40],
        source=source,
        destination=destination,
        order_id=order_id,
        order_number=order_number,
        note=note[:300],
        expected_on=transfer_expected_on(source),
        created_by=actor.label[:220],
    )
    transfer.number = f"TR-{transfer.pk:06d}"
    TransferOrder.objects.filter(pk=transfer.pk).update(number=transfer.number)
    TransferLine.objects.bulk_create(
        TransferLine(transfer=transfer, product_id=pid, quantity=qty) for pid, qty in quantities.items()
    )
    stock_reserve(
        lines=_source_lines(transfer, quantities),
        actor=actor,
        reference=_reference(transfer),
        reason=f"Transfer to {destination.code}",
    )
    return transfer


@transaction.atomic(durable=True)
def transfer_create(
    *, source: Location, destination: Location, items: Sequence[TransferItem], actor: Actor, note: str = ""
) -> TransferOrder:
    """``POST /transfers``: a manager, or an associate of the source location."""
    _require_at(actor, source, "send a transfer")
    return transfer_create_for(source=source, destination=destination, items=items, actor=actor, note=note)


def _locked(transfer_id: int) -> TransferOrder:
    transfer = (
        TransferOrder.objects.select_for_update(of=("self",))
        .select_related("source", "destination")
        .filter(pk=transfer_id)
        .first()
    )
    if transfer is None:
        raise TransferNotFound(extra={"id": transfer_id})
    return transfer


def _lines_locked(transfer: TransferOrder) -> list[TransferLine]:
    return list(
        TransferLine.objects.select_for_update(of=("self",))
        .select_related("product")
        .filter(transfer=transfer)
        .order_by("pk")
    )


def _held_at_source(
    transfer_id: int, actor: Actor, target: str, what: str
) -> tuple[TransferOrder, list[StockLine]]:
    """A draft's step at the source (ship, cancel): the transfer and its lines locked, the actor and
    the transition checked, and the units the transfer holds at the source."""
    transfer = _locked(transfer_id)
    _require_at(actor, transfer.source, what)
    transfer.require_transition(target)
    lines = _lines_locked(transfer)
    return transfer, _source_lines(transfer, {line.product_id: line.quantity for line in lines})


@transaction.atomic(durable=True)
def transfer_ship(
    *, transfer_id: int, actor: Actor, carrier: str = "", tracking_number: str = ""
) -> TransferOrder:
    """The units leave the source (draft -> shipped): every line ships whole, its reserved units
    leave on-hand stock as ``transfer_out``; the expected day is counted from today."""
    transfer, held = _held_at_source(transfer_id, actor, TransferStatus.SHIPPED, "ship a transfer")
    stock_consume(
        lines=held,
        actor=actor,
        reference=_reference(transfer),
        reason=f"Transfer to {transfer.destination.code}",
        kind=MovementKind.TRANSFER_OUT,
    )
    TransferLine.objects.filter(transfer=transfer).update(shipped=F("quantity"))
    transfer.status = TransferStatus.SHIPPED
    transfer.shipped_at = timezone.now()
    transfer.shipped_by = actor.label[:220]
    transfer.expected_on = transfer_expected_on(transfer.source)
    transfer.carrier, transfer.tracking_number = carrier[:64], tracking_number[:128]
    transfer.save()
    return transfer


def _receipt_quantities(lines: list[TransferLine], items: Sequence[TransferItem] | None) -> dict[int, int]:
    """``{line pk: units}`` to receive: what is given, or everything still on the road."""
    if not items:
        return {line.pk: line.in_transit for line in lines if line.in_transit > 0}
    by_product = {line.product_id: line for line in lines}
    wanted: dict[int, int] = {}
    for item in items:
        check_quantity(item.quantity)
        line = by_product.get(item.product.pk)
        if line is None:
            raise InvalidInput(
                f"SKU {item.product.sku} is not on this transfer.",
                code="sku_not_on_transfer",
                extra={"sku": item.product.sku},
            )
        wanted[line.pk] = wanted.get(line.pk, 0) + item.quantity
    return wanted


@transaction.atomic(durable=True)
def transfer_receive(
    *,
    transfer_id: int,
    actor: Actor,
    items: Sequence[TransferItem] | None = None,
    idempotency_key: str = "",
) -> TransferOrder:
    """Units arrive at the destination (``transfer_in``, on-hand up), all that is on the road or the
    ``items`` given (a partial receipt). Never more than was shipped: 409 ``transfer_over_receipt``.
    With an ``idempotency_key`` already used on this transfer, nothing changes.

    Announces ``transfer.received`` inside the transaction (ship-to-store reserves the units for
    the order it serves) with the units per product."""
    transfer = _locked(transfer_id)
    _require_at(actor, transfer.destination, "receive a transfer")
    if transfer.order_id is not None:  # the order it serves is locked before any stock row
        publish(
            topic="transfer.receiving", payload={"transfer_id": transfer.pk, "order_id": transfer.order_id}
        )
    if idempotency_key and transfer.receipts.filter(key=idempotency_key).exists():
        return transfer
    if transfer.status not in (
        TransferStatus.SHIPPED,
        TransferStatus.IN_TRANSIT,
        TransferStatus.PARTIALLY_RECEIVED,
    ):
        transfer.require_transition(TransferStatus.RECEIVED)  # raises: draft, received, cancelled
    lines = _lines_locked(transfer)
    wanted = _receipt_quantities(lines, items)
    if not wanted:
        raise Conflict("Nothing of this transfer is left to receive.", code="transfer_nothing_to_receive")
    by_pk = {line.pk: line for line in lines}
    received: dict[int, int] = {}
    for pk in sorted(wanted):
        n, line = wanted[pk], by_pk[pk]
        added = TransferLine.objects.filter(pk=pk, received__lte=F("shipped") - n).update(
            received=F("received") + n
        )
        if added == 0:
            raise TransferOverReceipt(
                f"{n} of {line.product.sku} received, but only {line.in_transit} are in transit.",
                extra={"sku": line.product.sku, "quantity": n, "in_transit": line.in_transit},
            )
        line.received += n
        received[line.product_id] = n
        stock_adjust(
            product=line.product,
            location=transfer.destination,
            delta=n,
            reason=f"Transfer from {transfer.source.code}",
            actor=actor,
            kind=MovementKind.TRANSFER_IN,
            reference=_reference(transfer),
        )
    done = all(line.received == line.shipped for line in lines)
    transfer.status = TransferStatus.RECEIVED if done else TransferStatus.PARTIALLY_RECEIVED
    transfer.received_by = actor.label[:220]
    if done:
        transfer.received_at = timezone.now()
    transfer.save()
    TransferReceipt.objects.create(
        transfer=transfer,
        key=(idempotency_key or f"auto-{uuid.uuid4().hex}")[:100],
        units=sum(received.values()),
        actor_name=actor.label[:220],
    )
    publish(
        topic="transfer.received",
        payload={
            "transfer_id": transfer.pk,
            "order_id": transfer.order_id,
            "location_id": transfer.destination_id,
            "complete": done,
            "units": {str(pid): n for pid, n in sorted(received.items())},
        },
    )
    return transfer


@transaction.atomic(durable=True)
def transfer_cancel(*, transfer_id: int, actor: Actor, reason: str = "") -> TransferOrder:
    """Cancel a transfer not yet shipped (draft -> cancelled): its units go back on sale at the
    source. A shipped transfer cannot be cancelled (409): its units are on the road; receive them,
    then send them back with another transfer if they must return."""
    transfer, held = _held_at_source(transfer_id, actor, TransferStatus.CANCELLED, "cancel a transfer")
    stock_release(
        lines=held, actor=actor, reference=_reference(transfer), reason=reason or "Transfer cancelled"
    )
    transfer.status = TransferStatus.CANCELLED
    transfer.cancelled_at = timezone.now()
    transfer.cancelled_by = actor.label[:220]
    if reason:
        transfer.note = reason[:300]
    transfer.save()
    return transfer
