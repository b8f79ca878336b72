"""Returns in the Django admin: a store's returns to receive, with actions that call the services
(receive, refund, close, cancel; receive and refund also as buttons on a return's page), and
read-only pages for reporting return reasons, dispositions and refunds.

Who sees what (as in the inventory admin): managers see every return; associates see the returns
received at their own locations (and their lines, receipts and refunds) without Django model
permissions. Records are never edited here: every change goes through ``returns.services``, which
checks again that the associate works at the return's location."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.db.models import QuerySet, Sum
from django.http import HttpRequest
from django.template.response import TemplateResponse

from oms.actors import Actor
from oms.admin_base import (
    LocationScopedMixin,
    ReadOnlyMixin,
    StaffReadOnlyInline,
    admin_actor,
    apply_each,
    column,
    form_or_page,
    money_column,
)
from oms.admin_buttons import DetailButton, DetailButtonsMixin
from oms.display import EMPTY, actor_display, money_display
from oms.errors import DomainError

from .choices import Disposition, RefundMethod, ReturnStatus
from .models import AWAITING_STATUSES, Receipt, Refund, Return, ReturnLine
from .selectors import return_refund_due
from .services import ReceiveLineInput, return_cancel, return_close, return_receive, return_refund


class ReadOnlyInline(ReadOnlyMixin, StaffReadOnlyInline):
    """A return's lines, receipts and refunds: shown to its location's staff, never edited here."""


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    verbose_name_plural = "Items coming back"
    fields = (
        "sku",
        "product",
        "quantity",
        "reason",
        "note",
        "value_display",
        "quantity_received",
        "quantity_restocked",
        "quantity_damaged",
    )

    sku = column("order_line.sku", "SKU")
    product = column("order_line.name", "Product")
    value_display = money_column("value", "Value", currency="rma.order.currency")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("order_line", "rma__order")


class ReceiptInline(ReadOnlyInline):
    model = Receipt
    fields = ("created_at", "sku", "quantity", "disposition", "location", "received_by")
    sku = column("line.order_line.sku", "SKU")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("line__order_line", "location")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("created_at", "amount_display", "method", "note", "created_by")
    amount_display = money_column("amount", "Amount")


class AwaitingReceiptFilter(admin.SimpleListFilter):
    title = "to receive"
    parameter_name = "to_receive"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Waiting for units")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(status__in=AWAITING_STATUSES)
        return queryset


class ReturnActionForm(forms.Form):
    """What an action asks for on its own page, with the action's name and the page's title and intro."""

    action: ClassVar[str]
    title: ClassVar[str]
    intro: ClassVar[str]


class ReceiveForm(ReturnActionForm):
    action, title = "receive_outstanding", "Receive returns"
    intro = "Receive every unit these returns still expect, at their own locations:"

    disposition = forms.ChoiceField(
        choices=Disposition.choices, help_text="Every outstanding unit of the selected returns gets it."
    )


class RefundForm(ReturnActionForm):
    action, title = "record_refund", "Record a refund"
    intro = "Record a refund (for the payment system to execute) for each of these returns:"

    amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        help_text="For each selected return; empty = what the return still owes the customer.",
    )
    method = forms.ChoiceField(choices=RefundMethod.choices)
    note = forms.CharField(required=False, max_length=300)


def _receiver(answers: dict[str, Any], actor: Actor) -> Callable[[Return], object]:
    """Receive every outstanding unit of a return with the disposition answered."""
    disposition = answers["disposition"]

    def receive(rma: Return) -> object:
        lines = [
            ReceiveLineInput(
                return_line_id=line.pk, quantity=line.quantity_outstanding, disposition=disposition
            )
            for line in rma.lines.order_by("pk")
            if line.quantity_outstanding > 0
        ]
        if not lines:
            raise DomainError("Nothing is left to receive.", code="nothing_to_receive")
        return return_receive(return_id=rma.pk, lines=lines, actor=actor)

    return receive


def _refunder(answers: dict[str, Any], actor: Actor) -> Callable[[Return], object]:
    """Record a refund of the amount answered (or what the return still owes) by the method answered."""
    amount, method, note = (answers[k] for k in ("amount", "method", "note"))

    def refund(rma: Return) -> object:
        value = amount if amount is not None else return_refund_due(rma=rma)
        if value <= 0:
            raise DomainError("The return owes nothing more.", code="nothing_to_refund")
        return return_refund(return_id=rma.pk, amount=value, method=method, note=note, actor=actor)

    return refund


RETURN_BUTTONS = (
    DetailButton(
        "receive",
        "Receive the units",
        lambda rma: rma.status in AWAITING_STATUSES,
        lambda rma, actor, answers: _receiver(answers, actor)(rma),
        "received.",
        ReceiveForm,
    ),
    DetailButton(
        "refund",
        "Record a refund",
        lambda rma: rma.status != ReturnStatus.CANCELLED and return_refund_due(rma=rma) > 0,
        lambda rma, actor, answers: _refunder(answers, actor)(rma),
        "refund recorded.",
        RefundForm,
    ),
)

RETURN_HEAD = ("number", "order", "channel", "method", "location", "status")  # what a return is, first


@admin.register(Return)
class ReturnAdmin(DetailButtonsMixin, ReadOnlyMixin, LocationScopedMixin, admin.ModelAdmin):
    """Returns are opened through the API (POS, storefront, call centre); every change is an action."""

    list_display = (
        *RETURN_HEAD,
        "value_display",
        "refunded",
        "exchange_order",
        "window_overridden",
        "created_at",
    )
    list_filter = (
        AwaitingReceiptFilter,
        "status",
        "method",
        ("location", admin.RelatedOnlyFieldListFilter),
        "lines__reason",
        "channel",
        "window_overridden",
    )
    search_fields = ("number", "order__number", "order__customer__email", "order__customer__phone")
    list_select_related = ("order", "channel", "location", "exchange_order")
    date_hierarchy = "created_at"
    ordering = ("-pk",)
    inlines = [ReturnLineInline, ReceiptInline, RefundInline]
    actions = ["receive_outstanding", "record_refund", "close_returns", "cancel_returns"]
    buttons = RETURN_BUTTONS  # on the return's page, for its location's staff and managers
    fields = (
        *RETURN_HEAD,
        "window_overridden",
        "value_display",
        "refunded",
        "exchange_order",
        "exchange_credit_display",
        "exchange_balance_display",
        "opened_by",
        "created_at",
        "received_at",
        "refunded_at",
        "closed_at",
        "cancelled_at",
    )
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(refunded_total=Sum("refunds__amount"))

    @admin.display(description="Refunded", ordering="refunded_total")
    def refunded(self, obj: Return) -> str:
        return money_display(getattr(obj, "refunded_total", None) or Decimal("0.00"), obj.order.currency)

    value_display = money_column("value", "Value", currency="order.currency", ordering="value")

    @admin.display(description="Exchange credit")
    def exchange_credit_display(self, obj: Return) -> str:
        if obj.exchange_order_id is None:
            return EMPTY  # no exchange: no credit to show, not "0 ₫"
        return money_display(obj.exchange_credit, obj.order.currency)

    @admin.display(description="Exchange balance")
    def exchange_balance_display(self, obj: Return) -> str:
        if obj.exchange_order_id is None:
            return EMPTY
        return money_display(obj.exchange_balance, obj.order.currency)

    @admin.display(description="Opened by")
    def opened_by(self, obj: Return) -> str:
        return actor_display(obj.created_by_type, obj.created_by)

    def _acts(self, request: HttpRequest) -> bool:
        actor = admin_actor(request)
        return request.user.is_superuser or actor.is_manager or actor.is_associate

    def may_press(self, request: HttpRequest, obj: Return) -> bool:
        return admin_actor(request).may_act_at(obj.location_id)

    def button_actor(self, request: HttpRequest) -> Actor:
        return admin_actor(request)

    # receiving, refunding and closing need the same role
    has_receive_permission = has_refund_permission = has_close_permission = _acts

    # --- actions ------------------------------------------------------------------------------------

    def _ask_then_each(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        form_class: type[ReturnActionForm],
        per_return: Callable[[dict[str, Any], Actor], Callable[[Return], object]],
        done_message: str,
    ) -> TemplateResponse | None:
        """The form's page until it is submitted valid; then ``per_return(answers, actor)`` on each
        selected return."""
        rows = list(queryset.select_related("location", "order").order_by("pk"))
        form, page = form_or_page(
            self,
            request,
            form_class,
            "admin/returns/action_form.html",
            title=form_class.title,
            intro=form_class.intro,
            submit=form_class.title,
            rows=rows,
            action=form_class.action,
        )
        if page is not None:
            return page
        self._each(request, rows, per_return(form.cleaned_data, admin_actor(request)), done_message)
        return None

    def _on_each(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        fn: Callable[[Return, Actor], object],
        done_message: str,
    ) -> None:
        """``fn(return, actor)`` on each selected return, in pk order."""
        actor = admin_actor(request)
        self._each(request, list(queryset.order_by("pk")), lambda rma: fn(rma, actor), done_message)

    def _each(
        self, request: HttpRequest, rows: list[Return], fn: Callable[[Return], object], done_message: str
    ) -> None:
        apply_each(request, rows, fn, lambda n: done_message.format(count=n, s="" if n == 1 else "s"))

    @admin.action(description="Receive every outstanding unit", permissions=["receive"])
    def receive_outstanding(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return self._ask_then_each(request, queryset, ReceiveForm, _receiver, "Received {count} return{s}.")

    @admin.action(description="Record a refund", permissions=["refund"])
    def record_refund(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return self._ask_then_each(request, queryset, RefundForm, _refunder, "Recorded {count} refund{s}.")

    @admin.action(description="Close the selected returns", permissions=["close"])
    def close_returns(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._on_each(
            request,
            queryset,
            lambda rma, actor: return_close(return_id=rma.pk, actor=actor),
            "Closed {count} return{s}.",
        )

    @admin.action(description="Cancel the selected returns", permissions=["close"])
    def cancel_returns(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._on_each(
            request,
            queryset,
            lambda rma, actor: return_cancel(return_id=rma.pk, actor=actor, reason="cancelled in admin"),
            "Cancelled {count} return{s}.",
        )


# --- Reporting: reasons, dispositions, refunds -------------------------------------------------------


class ReadOnlyAdmin(ReadOnlyMixin, LocationScopedMixin, admin.ModelAdmin):
    show_full_result_count = False


@admin.register(ReturnLine)
class ReturnLineAdmin(ReadOnlyAdmin):
    """Returned units by reason (what comes back, and why)."""

    location_lookup = "rma__location"
    list_display = (
        "rma",
        "sku",
        "quantity",
        "reason",
        "quantity_received",
        "quantity_restocked",
        "quantity_damaged",
        "value",
        "location",
    )
    list_filter = (
        "reason",
        "rma__status",
        ("rma__location", admin.RelatedOnlyFieldListFilter),
        "rma__channel",
    )
    search_fields = ("rma__number", "order_line__sku", "note")
    list_select_related = ("rma", "rma__location", "order_line")
    ordering = ("-pk",)

    def location_id_of(self, obj: ReturnLine) -> int:
        return obj.rma.location_id

    @admin.display(description="SKU", ordering="order_line__sku")
    def sku(self, obj: ReturnLine) -> str:
        return obj.order_line.sku

    @admin.display(description="Location")
    def location(self, obj: ReturnLine) -> str:
        return obj.rma.location.code


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    """Units received, by disposition and location (restocked or damaged)."""

    list_display = ("created_at", "rma", "sku", "quantity", "disposition", "location", "received_by")
    list_filter = ("disposition", ("location", admin.RelatedOnlyFieldListFilter), "received_by_type")
    search_fields = ("rma__number", "line__order_line__sku", "received_by")
    list_select_related = ("rma", "location", "line__order_line")
    date_hierarchy = "created_at"
    ordering = ("-pk",)

    @admin.display(description="SKU")
    def sku(self, obj: Receipt) -> str:
        return obj.line.order_line.sku


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds recorded for the payment system."""

    location_lookup = "rma__location"
    list_display = ("created_at", "rma", "order", "amount_display", "method", "created_by")
    list_filter = ("method", "currency", ("rma__location", admin.RelatedOnlyFieldListFilter))
    search_fields = ("rma__number", "order__number", "created_by")
    list_select_related = ("rma", "order")
    date_hierarchy = "created_at"
    ordering = ("-pk",)
    exclude = ("idempotency_scope", "idempotency_key")

    amount_display = money_column("amount", "Amount", ordering="amount")

    def location_id_of(self, obj: Refund) -> int:
        return obj.rma.location_id
