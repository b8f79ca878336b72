"""A change being worked out on the locked order, in memory: each operation moves units between
the order's lines and its held units (``Held``) and says what it did (an ``OrderChange``), before
anything is written (``apply``). Units are taken off a line in this order: those waiting for stock,
then held units not routed yet, then units of a fulfilment order its location has not accepted;
units a location works on (or finished) are never taken: 409."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from inventory.models import Location
from inventory.services import check_quantity
from inventory.sourcing import CandidateProduct, Candidates
from oms.actors import Actor
from oms.errors import InvalidInput
from oms.money import check_amount, quantize
from orders.choices import FulfillmentMethod, OrderChangeKind
from orders.errors import FulfillmentInProgress, UnitsAlreadyFulfilled
from orders.models import Order, OrderChange, OrderLine, Reservation
from orders.services.checks import MAX_LINES, check_pickup_store

from .hooks import QUEUED, STARTED, UNROUTED
from .inputs import ChangeOperation

K = OrderChangeKind
# The operations only an order of one method takes: that method, and the refusal's message and code.
_NEEDS_METHOD: dict[str, tuple[str, str, str]] = {
    K.CHANGE_ADDRESS: (
        FulfillmentMethod.SHIP,
        "A pickup order has no delivery address; use change_method to ship it.",
        "not_a_ship_order",
    ),
    K.CHANGE_PICKUP_STORE: (
        FulfillmentMethod.PICKUP,
        "A ship order has no pickup store; use change_method to collect it.",
        "not_a_pickup_order",
    ),
}
_TAKE_ORDER = {UNROUTED: 0, QUEUED: 1, STARTED: 2}


@dataclass
class Held:
    """An active reservation of the order, where its units stand, and how many the change gives back."""

    reservation: Reservation
    state: str  # UNROUTED | QUEUED | STARTED
    release: int = 0

    @property
    def remaining(self) -> int:
        return self.reservation.quantity - self.release


def line_value(line: OrderLine) -> tuple[Decimal, Decimal]:
    """What the customer pays for the units of a line they keep (not cancelled): net and tax. The
    tax is the line's pro rata, rounded to the cent, as captures share a line's total."""
    kept = line.quantity - line.quantity_cancelled
    if kept <= 0 or line.quantity <= 0:
        return Decimal("0"), Decimal("0")
    return line.unit_price * kept, quantize(line.tax * kept / line.quantity)


_STATE_FIELDS = ("line_number", "sku", "quantity", "quantity_cancelled", "quantity_backordered")


def _line_state(line: OrderLine) -> dict[str, Any]:
    """What an OrderChange keeps of a line before and after it (JSON)."""
    state: dict[str, Any] = {name: getattr(line, name) for name in _STATE_FIELDS}
    state["line_total"] = str(line.line_total)
    return state


@dataclass
class ChangeWork:
    order: Order
    lines: dict[int, OrderLine]  # the order's lines by id, in line order
    held: list[Held]
    products: dict[str, CandidateProduct]  # the products of the lines being added, by SKU
    actor: Actor
    reason: str
    revision: int
    new_lines: list[OrderLine] = field(default_factory=list)
    more_units: dict[int, int] = field(default_factory=dict)  # units to source, by id(line)
    resource: bool = False  # the order goes elsewhere: every movable held unit is sourced again
    touched: set[int] = field(default_factory=set)  # id() of the lines whose fields changed
    changes: list[OrderChange] = field(default_factory=list)
    pickup: Location | None = None
    candidates: Candidates | None = None  # read with the products of the lines added
    line_ids: list[int] = field(default_factory=list)  # ids drawn for the lines added (PostgreSQL)
    _before: dict[int, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.held.sort(key=lambda h: (_TAKE_ORDER[h.state], h.reservation.pk))
        self._before = {id(line): line_value(line) for line in self.lines.values()}

    # --- The operations ---------------------------------------------------------------------------

    def apply(self, op: ChangeOperation) -> None:
        handler = _HANDLERS.get(op.kind)
        if handler is None:
            raise InvalidInput(f"Unknown change '{op.kind}'.", code="unknown_change", extra={"kind": op.kind})
        handler(self, op)

    def _add_line(self, op: ChangeOperation) -> None:
        if not op.sku:
            raise InvalidInput("add_line needs sku.", code="sku_required")
        quantity = _quantity(op, field_name="quantity")
        if op.unit_price is None:
            raise InvalidInput("add_line needs unit_price.", code="unit_price_required")
        if len(self.lines) + len(self.new_lines) >= MAX_LINES:
            raise InvalidInput(f"An order has at most {MAX_LINES} lines.", code="too_many_lines")
        product = self.products[op.sku]
        unit_price = quantize(check_amount(op.unit_price, field_name="unit_price"))
        tax = quantize(check_amount(op.tax, field_name="tax"))
        numbers = [line.line_number for line in [*self.lines.values(), *self.new_lines]]
        line = OrderLine(
            order=self.order,
            line_number=max(numbers, default=0) + 1,
            product_id=product.id,
            sku=op.sku,
            name=product.name[:200],
            quantity=quantity,
            unit_price=unit_price,
            tax=tax,
            line_total=quantize(unit_price * quantity + tax),
        )
        self.new_lines.append(line)
        self._before[id(line)] = (Decimal("0"), Decimal("0"))
        self._source(line, quantity)
        self._record(K.ADD_LINE, line, before={}, value_before=Decimal("0"))

    def _remove_line(self, op: ChangeOperation) -> None:
        line = self._line(op)
        if line.quantity_open == 0:
            self._refuse_closed(line, requested=line.quantity_open or 1)
        before, value = _line_state(line), _value(line)
        self._cancel(line, line.quantity_open)
        self._record(K.REMOVE_LINE, line, before=before, value_before=value)

    def _change_quantity(self, op: ChangeOperation) -> None:
        line = self._line(op)
        wanted = _quantity(op, field_name="quantity", allow_zero=True)
        kept = line.quantity - line.quantity_cancelled
        if wanted == kept:
            raise InvalidInput(
                f"Line {line.line_number} has {kept} units already.",
                code="quantity_unchanged",
                extra={"order_line": line.pk, "quantity": kept},
            )
        before, value = _line_state(line), _value(line)
        if wanted < kept:
            self._cancel(line, kept - wanted)
        else:
            self._grow(line, wanted - kept)
        self._record(K.CHANGE_QUANTITY, line, before=before, value_before=value)

    def _cancel_units(self, op: ChangeOperation) -> None:
        line = self._line(op)
        before, value = _line_state(line), _value(line)
        self._cancel(line, _quantity(op, field_name="quantity"))
        self._record(K.CANCEL_UNITS, line, before=before, value_before=value)

    def _change_address(self, op: ChangeOperation) -> None:
        self._relocate(K.CHANGE_ADDRESS, op, self._set_address)

    def _change_method(self, op: ChangeOperation) -> None:
        if op.method not in FulfillmentMethod.values:
            raise InvalidInput(f"Unknown method '{op.method}'; use ship or pickup.", code="unknown_method")
        self._relocate(K.CHANGE_METHOD, op, self._set_method)

    def _change_pickup_store(self, op: ChangeOperation) -> None:
        self._relocate(K.CHANGE_PICKUP_STORE, op, self._set_pickup)

    def _relocate(self, kind: str, op: ChangeOperation, place: Callable[[ChangeOperation], None]) -> None:
        """Where the order goes changes (``place`` sets it): its held units are sourced again."""
        needs = _NEEDS_METHOD.get(kind)
        if needs is not None and self.order.method != needs[0]:
            raise InvalidInput(needs[1], code=needs[2])
        before = self._where()
        place(op)
        self._record(kind, None, before=before, after=self._where())

    # --- Units ------------------------------------------------------------------------------------

    def _cancel(self, line: OrderLine, units: int) -> None:
        """Cancel ``units`` open units of the line: those this change was adding, then waiting
        ones, then held ones no location works on yet (given back to sale on apply)."""
        if units > line.quantity_open:
            self._refuse_closed(line, requested=units)
        left = self._unsource(line, units)  # units this change was going to add first
        waiting = min(left, line.quantity_backordered)
        line.quantity_backordered -= waiting
        left -= waiting
        for held in self._held_of(line):
            if left == 0:
                break
            if held.state == STARTED:
                continue
            take = min(left, held.remaining)
            held.release += take
            left -= take
        if left:
            raise FulfillmentInProgress(
                f"A location is working on {left} unit(s) of line {line.line_number} ({line.sku}).",
                extra={"order_line": line.pk, "units": left},
            )
        line.quantity_cancelled += units
        self.touched.add(id(line))

    def _grow(self, line: OrderLine, units: int) -> None:
        """``units`` more of the line, at its price and its tax per unit."""
        new_quantity = line.quantity + units
        line.tax = quantize(line.tax * new_quantity / line.quantity)
        line.quantity = new_quantity
        line.line_total = quantize(line.unit_price * new_quantity + line.tax)
        self.touched.add(id(line))
        self._source(line, units)

    def _source(self, line: OrderLine, units: int) -> None:
        self.more_units[id(line)] = self.more_units.get(id(line), 0) + units

    def _unsource(self, line: OrderLine, units: int) -> int:
        """Take up to ``units`` off what this change was going to source for the line; the rest."""
        planned = self.more_units.get(id(line), 0)
        taken = min(units, planned)
        self.more_units[id(line)] = planned - taken
        return units - taken

    def _held_of(self, line: OrderLine) -> list[Held]:
        return [h for h in self.held if h.reservation.line_id == line.pk]

    def _refuse_closed(self, line: OrderLine, *, requested: int) -> None:
        extra = {"order_line": line.pk, "open": line.quantity_open, "requested": requested}
        if line.quantity_fulfilled and requested <= line.quantity - line.quantity_cancelled:
            raise UnitsAlreadyFulfilled(
                f"Line {line.line_number} ({line.sku}) has only {line.quantity_open} open unit(s); "
                f"{line.quantity_fulfilled} were shipped or collected.",
                extra=extra,
            )
        raise InvalidInput(
            f"Line {line.line_number} ({line.sku}) has only {line.quantity_open} open unit(s).",
            code="quantity_exceeds_open",
            extra=extra,
        )

    # --- Where the order goes ----------------------------------------------------------------------

    def _set_address(self, op: ChangeOperation) -> None:
        if not op.shipping_address:
            raise InvalidInput("Shipping needs shipping_address.", code="shipping_address_required")
        if (op.latitude is None) != (op.longitude is None):
            raise InvalidInput(
                "Give both latitude and longitude of the address, or neither.", code="invalid_coordinates"
            )
        self.order.shipping_address = dict(op.shipping_address)
        self.order.ship_latitude, self.order.ship_longitude = op.latitude, op.longitude
        self.resource = True

    def _set_method(self, op: ChangeOperation) -> None:
        if op.method == FulfillmentMethod.PICKUP:
            self._set_pickup(op)
        else:
            self._set_address(op)
            self.order.pickup_location = None
        self.order.method = op.method

    def _set_pickup(self, op: ChangeOperation) -> None:
        self.pickup = check_pickup_store(op.pickup_location)
        self.order.pickup_location = self.pickup
        self.order.shipping_address, self.order.ship_latitude, self.order.ship_longitude = {}, None, None
        self.resource = True

    def _where(self) -> dict[str, Any]:
        order = self.order
        if order.method == FulfillmentMethod.PICKUP:
            store = order.pickup_location
            return {"method": order.method, "pickup_location": store.code if store else ""}
        return {"method": order.method, "shipping_address": dict(order.shipping_address)}

    # --- The outcome --------------------------------------------------------------------------------

    def finish(self) -> dict[int, int]:
        """Close the work: when the order goes elsewhere, every held unit no location has started
        on is given back and sourced again (409 if a location has started). Answers the units to
        source, by id() of the line."""
        if self.resource:
            started = [h for h in self.held if h.state == STARTED and h.remaining]
            if started:
                raise FulfillmentInProgress(
                    "A location has started work on this order; its delivery can no longer change.",
                    extra={"reservations": [h.reservation.pk for h in started]},
                )
            for held in self.held:
                if held.remaining:
                    line = self._line_by_id(held.reservation.line_id)
                    self._source(line, held.remaining)
                    held.release = held.reservation.quantity
        return {key: units for key, units in self.more_units.items() if units}

    def money(self) -> tuple[Decimal, Decimal]:
        """The change of the order's net subtotal and tax."""
        net = tax = Decimal("0")
        for line in [*self.lines.values(), *self.new_lines]:
            (net_before, tax_before), (net_after, tax_after) = self._before[id(line)], line_value(line)
            net += net_after - net_before
            tax += tax_after - tax_before
        return net, tax

    def all_lines(self) -> list[OrderLine]:
        return [*self.lines.values(), *self.new_lines]

    @property
    def read_product_ids(self) -> set[int]:
        """The products whose stock ``candidates`` holds."""
        return {p.id for p in self.candidates.products.values()} if self.candidates else set()

    def _line(self, op: ChangeOperation) -> OrderLine:
        if op.order_line is None:
            raise InvalidInput(f"{op.kind} needs order_line.", code="order_line_required")
        line = self.lines.get(op.order_line)
        if line is None:
            raise InvalidInput(
                f"Order line {op.order_line} is not a line of order {self.order.number}.",
                code="unknown_order_line",
                extra={"order_line": op.order_line},
            )
        return line

    def _line_by_id(self, line_id: int) -> OrderLine:
        return self.lines[line_id]

    def _record(
        self,
        kind: str,
        line: OrderLine | None,
        *,
        before: dict[str, Any],
        after: dict[str, Any] | None = None,
        value_before: Decimal = Decimal("0"),
    ) -> None:
        self.changes.append(
            OrderChange(
                order=self.order,
                revision=self.revision,
                position=len(self.changes) + 1,
                kind=kind,
                line=line,
                reason=self.reason[:300],
                before=before,
                after=after if after is not None else (_line_state(line) if line is not None else {}),
                money_delta=(_value(line) - value_before) if line is not None else Decimal("0"),
                actor_type=self.actor.type,
                actor_name=self.actor.name[:200],
            )
        )


def _value(line: OrderLine) -> Decimal:
    net, tax = line_value(line)
    return net + tax


def _quantity(op: ChangeOperation, *, field_name: str, allow_zero: bool = False) -> int:
    if op.quantity is None:
        raise InvalidInput(f"{op.kind} needs {field_name}.", code="quantity_required")
    return check_quantity(op.quantity, field=field_name, allow_zero=allow_zero)


_HANDLERS: dict[str, Callable[[ChangeWork, ChangeOperation], None]] = {
    K.ADD_LINE: ChangeWork._add_line,
    K.REMOVE_LINE: ChangeWork._remove_line,
    K.CHANGE_QUANTITY: ChangeWork._change_quantity,
    K.CANCEL_UNITS: ChangeWork._cancel_units,
    K.CHANGE_ADDRESS: ChangeWork._change_address,
    K.CHANGE_METHOD: ChangeWork._change_method,
    K.CHANGE_PICKUP_STORE: ChangeWork._change_pickup_store,
}
