"""Changing an order from its admin page (issue 19): a form for one operation, pressed first as a
preview (what the change would do, nothing kept), then as the change itself. Both call
``order_change``, as the API does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from oms.actors import Actor
from oms.admin_buttons import DetailButton
from oms.errors import InvalidInput
from oms.money import MONEY, money_text

from .choices import OrderChangeKind, OrderStatus
from .models import Order, OrderLine
from .services import ChangeInput, ChangeOperation, ChangeResult, order_change


class OrderChangeForm(forms.Form):
    op = forms.ChoiceField(label="Change", choices=OrderChangeKind.choices)
    line_number = forms.IntegerField(required=False, min_value=1, help_text="The line to change (1, 2 ...).")
    quantity = forms.IntegerField(
        required=False, min_value=0, help_text="The line's new quantity, or how many units to cancel or add."
    )
    sku = forms.CharField(required=False, max_length=64, help_text="For a new line.")
    unit_price = forms.DecimalField(required=False, min_value=Decimal("0"), **MONEY)
    pickup_location = forms.CharField(required=False, max_length=64, help_text="A store code (pickup).")
    line1 = forms.CharField(required=False, max_length=300, label="Address")
    city = forms.CharField(required=False, max_length=120)
    postal_code = forms.CharField(required=False, max_length=20)
    country = forms.CharField(required=False, max_length=2)
    reason = forms.CharField(required=False, max_length=300, help_text="On the order's timeline.")


def _change_of(order: Order, answers: dict[str, Any]) -> ChangeInput:
    """The form's answers as the one operation of a change of ``order``."""
    line_id = None
    if answers.get("line_number"):
        line = OrderLine.objects.filter(order=order, line_number=answers["line_number"]).first()
        if line is None:
            raise InvalidInput(
                f"Order {order.number} has no line {answers['line_number']}.", code="unknown_order_line"
            )
        line_id = line.pk
    address = {k: answers[k] for k in ("line1", "city", "postal_code", "country") if answers.get(k)}
    kind = answers["op"]
    method = ""
    if kind == OrderChangeKind.CHANGE_METHOD:
        method = "pickup" if answers.get("pickup_location") else "ship"
    operation = ChangeOperation(
        kind=kind,
        order_line=line_id,
        quantity=answers.get("quantity"),
        sku=answers.get("sku") or "",
        unit_price=answers.get("unit_price"),
        method=method,
        pickup_location=answers.get("pickup_location") or "",
        shipping_address=address or None,
    )
    return ChangeInput(operations=[operation], reason=answers.get("reason") or "")


def _run(*, preview: bool) -> Any:
    def run(order: Order, actor: Actor, answers: dict[str, Any]) -> ChangeResult:
        return order_change(order_id=order.pk, data=_change_of(order, answers), actor=actor, preview=preview)

    return run


def _said(result: ChangeResult, *, preview: bool) -> str:
    total = f"{money_text(result.order.total)} {result.order.currency}"
    moved = f"{result.released_units} unit(s) given back, {result.reserved_units} held"
    if preview:
        return (
            f"preview only, nothing changed: the total would change by {money_text(result.money_delta)} "
            f"to {total}; {moved}."
        )
    return f"changed: the total changed by {money_text(result.money_delta)} to {total}; {moved}."


def _changeable(order: Order) -> bool:
    return order.status not in (OrderStatus.COMPLETED, OrderStatus.CANCELLED)


def _button(name: str, label: str, *, preview: bool) -> DetailButton:
    return DetailButton(
        name,
        label,
        _changeable,
        _run(preview=preview),
        lambda result: _said(result, preview=preview),
        OrderChangeForm,
    )


CHANGE_BUTTONS = (
    _button("preview-change", "Preview a change", preview=True),
    _button("change", "Change the order", preview=False),
)
