"""The admin of transfer orders: readable by managers and by the associates of either end, with a
button to ship (at the source) and to receive everything in transit (at the destination), or to
cancel a draft (at the source); each calls the same service as the API, as the logged-in user."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest

from oms.actors import Actor
from oms.admin_base import ReadOnlyInline, ReadOnlyMixin, StaffViewMixin, admin_actor
from oms.admin_buttons import DetailButton, DetailButtonsMixin, ShownButton

from .models import TransferLine, TransferOrder, TransferStatus
from .selectors import transfer_queryset_for_actor
from .services import transfer_cancel, transfer_receive, transfer_ship


class TransferLineInline(StaffViewMixin, ReadOnlyInline):
    model = TransferLine
    fields = ("product", "quantity", "shipped", "received")


_ON_THE_ROAD = (TransferStatus.SHIPPED, TransferStatus.IN_TRANSIT, TransferStatus.PARTIALLY_RECEIVED)


def _button(
    name: str,
    label: str,
    when: Sequence[str],
    service: Callable[..., object],
    done: str,
    danger: bool = False,
) -> DetailButton:
    """A button shown in the statuses ``when``, calling ``service`` on the transfer as the user."""
    return DetailButton(
        name,
        label,
        lambda t: t.status in when,
        lambda t, actor, answers: service(transfer_id=t.pk, actor=actor),
        done,
        danger=danger,
    )


_DRAFT = (TransferStatus.DRAFT,)
BUTTONS = (
    _button("ship", "Ship", _DRAFT, transfer_ship, "shipped: the units are in transit."),
    _button("receive", "Receive everything in transit", _ON_THE_ROAD, transfer_receive, "received."),
    _button("cancel", "Cancel", _DRAFT, transfer_cancel, "cancelled: units back on sale.", danger=True),
)
# which end of the transfer a button acts at
_END = {"ship": "source_id", "cancel": "source_id", "receive": "destination_id"}


@admin.register(TransferOrder)
class TransferOrderAdmin(DetailButtonsMixin, ReadOnlyMixin, StaffViewMixin, admin.ModelAdmin):
    buttons = BUTTONS
    list_display = ("number", "source", "destination", "status", "order_number", "expected_on", "created_at")
    list_filter = ("status", "source", "destination")
    search_fields = ("number", "order_number")
    list_select_related = ("source", "destination")
    inlines = [TransferLineInline]
    fieldsets = (
        (None, {"fields": ("number", "status", ("source", "destination"), "order_number", "note")}),
        ("On the road", {"fields": ("expected_on", "carrier", "tracking_number")}),
        (
            "Who and when",
            {
                "fields": (
                    ("created_by", "created_at"),
                    ("shipped_by", "shipped_at"),
                    ("received_by", "received_at"),
                    ("cancelled_by", "cancelled_at"),
                )
            },
        ),
    )
    readonly_fields = flatten_fieldsets(fieldsets)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return transfer_queryset_for_actor(admin_actor(request))

    def may_see(self, request: HttpRequest, obj: Any) -> bool:
        actor = admin_actor(request)
        return actor.may_act_at(obj.source_id) or actor.may_act_at(obj.destination_id)

    def may_press(self, request: HttpRequest, obj: TransferOrder) -> bool:
        return self.may_see(request, obj)

    def button_actor(self, request: HttpRequest) -> Actor:
        return admin_actor(request)

    def buttons_for(self, request: HttpRequest, obj: Any) -> list[ShownButton]:
        """Only the buttons of the end the user works at (ship at the source, receive at the
        destination); a manager sees both."""
        actor = admin_actor(request)
        return [
            shown
            for shown in super().buttons_for(request, obj)
            if actor.may_act_at(getattr(obj, _END[shown.button.name]))
        ]
