"""A fulfilment order's printable pages: the pick list (what to take from the shelves, by SKU,
with a tick box per row) and, for a parcel, the packing slip (ship-to address and contents).
Plain HTML with print CSS (A4, no admin chrome), in the store's time zone; the store's staff see
only their own locations' (the admin's scoped queryset)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.admin.utils import unquote
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from orders.notifications import address_lines

from .models import FulfillmentOrder
from .selectors import fulfillment_order_detail_queryset, fulfillment_order_pick_lines


def print_urls(modeladmin: Any) -> list[URLPattern]:
    """The print views' URLs of the fulfilment order admin ``modeladmin``."""

    def page(template: str) -> Any:
        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            return _print_page(modeladmin, request, object_id, template)

        return modeladmin.admin_site.admin_view(view)

    return [
        path(
            "<path:object_id>/pick-list/",
            page("admin/fulfillment/pick_list.html"),
            name="fulfillment_fulfillmentorder_pick_list",
        ),
        path(
            "<path:object_id>/packing-slip/",
            page("admin/fulfillment/packing_slip.html"),
            name="fulfillment_fulfillmentorder_packing_slip",
        ),
    ]


def _print_page(modeladmin: Any, request: HttpRequest, object_id: str, template: str) -> TemplateResponse:
    visible = modeladmin.get_object(request, unquote(object_id))  # None outside the user's stores
    if visible is None:
        raise Http404("No such fulfilment order.")
    fo: FulfillmentOrder = fulfillment_order_detail_queryset(
        FulfillmentOrder.objects.filter(pk=visible.pk)
    ).get()
    tz = ZoneInfo(fo.location.timezone)
    return TemplateResponse(
        request,
        template,
        {
            "fo": fo,
            "order": fo.order,
            "customer": fo.order.customer,
            "lines": fulfillment_order_pick_lines(fo),
            "units": sum(line.quantity for line in fo.lines.all()),
            "address": address_lines(fo.order.shipping_address),
            "printed_at": timezone.now().astimezone(tz),
            "created_at": fo.created_at.astimezone(tz),
            "tz": tz,
        },
    )
