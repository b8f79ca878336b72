"""The customer page of the admin: one person across channels. Contact and channel ids, and the
unified history: every order from every channel, every return and refund, and the pickups still
waiting (``orders.selectors.customer_overview``).

The associate's view of the customer (issue 22): the search finds a customer by e-mail, phone or
any identifier an app registers (``oms.customer_search``: loyalty numbers); "At the counter" shows
the sections apps register (``orders.customer_page``: the pickups waiting at the associate's
store, the suggested products ...); "Reserve in store" places a pickup for them
(``customer_reserve_admin``).

Registered here rather than in the kernel's admin because it shows orders. Managers may correct
the name and the language; associates look customers up read-only (as an in-person channel may),
so they get no Save button and no action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from oms.admin_base import ReadOnlyMixin, StaffReadOnlyInline, StaffViewMixin, admin_actor
from oms.customer_search import customer_lookup_names, customer_search_condition
from oms.display import EMPTY, language_name
from oms.models import ChannelCustomerRef, Customer

from .admin_screens import customer_history_html, customer_sections_html
from .customer_reserve_admin import ReserveInStoreMixin
from .selectors import customer_overview


class ChannelCustomerRefInline(ReadOnlyMixin, StaffReadOnlyInline):
    model = ChannelCustomerRef
    verbose_name_plural = "Ids in the channels"
    fields = ("channel_display", "external_id")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("channel")

    @admin.display(description="Channel")
    def channel_display(self, obj: ChannelCustomerRef) -> str:
        return f"{obj.channel.name} ({obj.channel.code})"


@admin.register(Customer)
class CustomerAdmin(ReserveInStoreMixin, StaffViewMixin, admin.ModelAdmin):
    """Customers are created and matched by order capture (e-mail, phone, channel id), so the
    identity fields are read-only here: editing them would bypass the normalised match keys."""

    list_display = ("__str__", "email", "phone", "language_name", "created_at", "erased_at")
    list_filter = ("language",)
    search_fields = ("email", "email_normalized", "phone", "phone_normalized", "name")
    fieldsets = (
        (None, {"fields": ("name", "language", "contact", "created_at", "erased_at")}),
        (_("At the counter"), {"fields": ("counter",)}),
        ("Orders, returns and pickups, every channel", {"fields": ("history",)}),
    )
    readonly_fields = ("contact", "created_at", "erased_at", "counter", "history")
    change_form_template = "admin/orders/customer_change_form.html"

    @property
    def search_help_text(self) -> str:  # type: ignore[override]  # Django reads it as an attribute
        return "Name, or an exact " + ", ".join(customer_lookup_names()) + "."

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        """The admin's search over the name and contact fields, plus every registered lookup
        (an exact e-mail, a phone in any format, a loyalty number ...)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        condition = customer_search_condition(search_term)
        if condition is not None:
            found = found | queryset.filter(condition)
        return found, may_have_duplicates

    @admin.display(description="Language", ordering="language")
    def language_name(self, obj: Customer) -> str:
        return language_name(obj.language)

    inlines = [ChannelCustomerRefInline]
    date_hierarchy = "created_at"
    show_full_result_count = False

    class Media:
        css = {"all": ["oms/css/screens.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return super().get_actions(request) if admin_actor(request).is_manager else {}

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Customer | None:
        customer = super().get_object(request, object_id, from_field)
        if customer is not None:
            customer.overview = customer_overview(customer_id=customer.pk, actor=admin_actor(request))
            customer.counter_html = customer_sections_html(
                customer, admin_actor(request), reserve_url=self.reserve_url(request, customer)
            )
        return customer

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        context["reserve_url"] = self.reserve_url(request, context.get("original"))
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description=_("For them now"))
    def counter(self, obj: Customer) -> str:
        return getattr(obj, "counter_html", None) or EMPTY

    @admin.display(description="Contact")
    def contact(self, obj: Customer) -> str:
        parts = [(label, value) for label, value in (("E-mail", obj.email), ("Phone", obj.phone)) if value]
        return format_html_join("", "{}: {}<br>", parts) if parts else EMPTY

    @admin.display(description="History")
    def history(self, obj: Customer) -> str:
        overview = getattr(obj, "overview", None)
        return customer_history_html(overview) if overview is not None else EMPTY
