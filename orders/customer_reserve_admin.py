"""The customer page's "Reserve in store" button (issue 22): a form (the associate's store, up to
three SKUs with their quantities) that places a pickup order for the customer through
``reserve_in_store_place``. A refusal (the store lacks units: the 409 names the nearby stores that
have them; an unknown SKU; another store than the associate's) comes back on the form as a
message, never a 500; success goes back to the customer page, which lists the new pickup."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inventory.models import Location
from oms.admin_base import admin_actor
from oms.errors import DomainError

from .services import ReserveItem, reserve_in_store_place
from .services.reserve_in_store import reserve_in_store_locations

ITEM_ROWS = 3


class ReserveInStoreForm(forms.Form):
    location = forms.ChoiceField(label=gettext_lazy("Store"))
    # one per form shown: submitting the same form twice (a double click) places one order
    submission = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, stores: list[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(store.code, f"{store.name} ({store.code})") for store in stores]
        cast(forms.ChoiceField, self.fields["location"]).choices = choices
        for row in range(1, ITEM_ROWS + 1):
            self.fields[f"sku_{row}"] = forms.CharField(
                label=gettext_lazy("SKU"), max_length=64, required=row == 1
            )
            self.fields[f"quantity_{row}"] = forms.IntegerField(
                label=gettext_lazy("Quantity"), min_value=1, max_value=999, initial=1, required=False
            )

    def rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"sku_{row}"], self[f"quantity_{row}"]) for row in range(1, ITEM_ROWS + 1)]

    def items(self) -> list[ReserveItem]:
        data = self.cleaned_data
        return [
            ReserveItem(sku=data[f"sku_{row}"].strip(), quantity=data.get(f"quantity_{row}") or 1)
            for row in range(1, ITEM_ROWS + 1)
            if (data.get(f"sku_{row}") or "").strip()
        ]


class ReserveInStoreMixin:
    """Adds ``<id>/reserve-in-store/`` to the customer admin, and ``reserve_url`` to its page."""

    admin_site: Any
    opts: Any

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.reserve_in_store_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_reserve"
        return [path("<path:object_id>/reserve-in-store/", view, name=name), *super().get_urls()]  # type: ignore[misc]

    def reserve_url(self, request: HttpRequest, obj: Any) -> str:
        """The button's URL, or "" when the user has no store to reserve at."""
        if obj is None or obj.erased_at is not None or not reserve_in_store_locations(admin_actor(request)):
            return ""
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_reserve", args=[obj.pk]
        )

    def reserve_in_store_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        customer = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if customer is None or not self.has_view_permission(request, customer):  # type: ignore[attr-defined]
            raise Http404("No such customer.")
        back = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change", args=[customer.pk]
        )
        actor = admin_actor(request)
        stores = reserve_in_store_locations(actor)
        if not stores or customer.erased_at is not None:
            messages.error(request, _("You have no store to reserve at for this customer."))
            return HttpResponseRedirect(back)
        if request.method != "POST":
            initial = {
                "sku_1": request.GET.get("sku", ""),
                "location": stores[0].code,
                "submission": uuid.uuid4().hex,
            }
            return self._reserve_page(request, customer, ReserveInStoreForm(initial=initial, stores=stores))
        form = ReserveInStoreForm(request.POST, stores=stores)
        if not form.is_valid():
            return self._reserve_page(request, customer, form)
        try:
            result = reserve_in_store_place(
                customer_id=customer.pk,
                location_code=form.cleaned_data["location"],
                items=form.items(),
                actor=actor,
                idempotency_key=form.cleaned_data["submission"],
            )
        except DomainError as exc:
            messages.error(request, _("Not reserved: %(reason)s") % {"reason": exc.message})
            return self._reserve_page(request, customer, form, refused=exc)
        order = result.order
        url = reverse("admin:orders_order_change", args=[order.pk])
        text = _("Reserved for pickup at %(store)s: order %(number)s.")
        messages.success(
            request,
            format_html(
                "{} <a href='{}'>{}</a>",
                text % {"store": form.cleaned_data["location"], "number": order.number},
                url,
                _("Open the order"),
            ),
        )
        return HttpResponseRedirect(back)

    def _reserve_page(
        self,
        request: HttpRequest,
        customer: Any,
        form: ReserveInStoreForm,
        refused: DomainError | None = None,
    ) -> TemplateResponse:
        nearby = (refused.extra or {}).get("nearby_stores") or [] if refused is not None else []
        return TemplateResponse(
            request,
            "admin/orders/customer_reserve.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": customer,
                "title": _("Reserve in store for %(customer)s") % {"customer": customer},
                "form": form,
                "refused": refused,
                "nearby_stores": nearby,
            },
        )
