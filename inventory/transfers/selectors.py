"""Reads of transfer orders: what an actor may see, one transfer, and the units on the road to each
location (ATP's future supply)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet, Sum

from inventory.errors import TransferNotFound
from oms.actors import Actor
from oms.lookups import get_by_pk

from .models import ON_THE_ROAD, TransferLine, TransferOrder


def transfer_queryset_for_actor(actor: Actor) -> QuerySet[TransferOrder]:
    """Managers (and the system) see every transfer; an associate those leaving or reaching one of
    their locations; nobody else any."""
    qs = TransferOrder.objects.select_related("source", "destination").prefetch_related("lines__product")
    if actor.is_manager or actor.is_system:
        return qs
    if actor.is_associate:
        ids = actor.location_ids
        return qs.filter(Q(source_id__in=ids) | Q(destination_id__in=ids))
    return qs.none()


def transfer_get_for_actor(*, transfer_id: Any, actor: Actor) -> TransferOrder:
    """The transfer if the actor may see it, else 404 ``transfer_not_found`` (ids do not leak)."""
    return get_by_pk(
        transfer_queryset_for_actor(actor),
        transfer_id,
        not_found=TransferNotFound(f"No transfer order {transfer_id}.", extra={"id": str(transfer_id)}),
    )


@dataclass(frozen=True)
class Incoming:
    """Units of a SKU on the road to a location, expected on a day."""

    location: str  # code
    quantity: int
    expected_on: datetime.date | None


def incoming_for_skus(skus: Sequence[str]) -> dict[str, list[Incoming]]:
    """``{sku: [Incoming, ...]}``: shipped minus received per destination and expected day, for the
    SKUs asked (earliest first, then by location code). One query."""
    rows = (
        TransferLine.objects.filter(
            product__sku__in=list(skus),
            transfer__status__in=ON_THE_ROAD,
            shipped__gt=F("received"),
        )
        .values("product__sku", "transfer__destination__code", "transfer__expected_on")
        .annotate(quantity=Sum(F("shipped") - F("received")))
        .order_by("product__sku", "transfer__expected_on", "transfer__destination__code")
    )
    answer: dict[str, list[Incoming]] = {}
    for row in rows:
        answer.setdefault(row["product__sku"], []).append(
            Incoming(
                location=row["transfer__destination__code"],
                quantity=row["quantity"],
                expected_on=row["transfer__expected_on"],
            )
        )
    return answer
