"""The sections of the associate's customer page (issue 22) besides the unified history: the
pickups waiting at the associate's stores, the suggested products, the cart, the points ...

A section is a loader and a template: ``load(customer, actor)`` reads what the section shows (None:
nothing to show, the section is left out) and the template (``admin/...``) renders it as
``value``. Apps register theirs in their ``AppConfig.ready`` (fulfilment: the pickups; orders:
the suggestions), in ``position`` order, so a new section is a loader, a template and one
``customer_page_section_register`` call, and this module never imports the apps above it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from oms.actors import Actor
from oms.loyalty.models import LoyaltyAccount
from oms.loyalty.selectors import loyalty_recent_entries
from oms.models import Customer

from .cart_selectors import cart_detail_queryset
from .models import Cart
from .suggestions import suggestions_for_customer

SectionLoader = Callable[[Customer, Actor], Any]


@dataclass(frozen=True)
class CustomerPageSection:
    """One section: its ``name`` (the HTML id ``customer-<name>``), its heading, its template, its
    loader and where it goes (lower first)."""

    name: str
    title: Any  # a str, or a lazy translation
    template: str
    load: SectionLoader
    position: int = 100


@dataclass(frozen=True)
class ShownSection:
    section: CustomerPageSection
    value: Any


_sections: dict[str, CustomerPageSection] = {}


def customer_page_section_register(section: CustomerPageSection) -> None:
    """Show ``section`` on every customer page (registering a name again replaces it)."""
    _sections[section.name] = section


def customer_page_section(
    name: str, title: Any, template: str, *, position: int = 100
) -> Callable[[SectionLoader], SectionLoader]:
    """Register the decorated loader as the section ``name`` (``customer_page_section_register``)."""

    def register(load: SectionLoader) -> SectionLoader:
        customer_page_section_register(CustomerPageSection(name, title, template, load, position))
        return load

    return register


def customer_page_sections(*, customer: Customer, actor: Actor) -> list[ShownSection]:
    """The sections with something to show for this customer and actor, in position order."""
    shown = []
    for section in sorted(_sections.values(), key=lambda s: (s.position, s.name)):
        value = section.load(customer, actor)
        if value is not None:
            shown.append(ShownSection(section, value))
    return shown


SUGGESTIONS_SHOWN = 6


@customer_page_section(
    "suggestions", _("Suggested products"), "admin/orders/_customer_suggestions.html", position=50
)
def _suggestions(customer: Customer, actor: Actor) -> Any:
    return suggestions_for_customer(
        customer_id=customer.pk, limit=SUGGESTIONS_SHOWN, location_ids=actor.location_ids
    )


@customer_page_section("cart", _("Open cart"), "admin/orders/_customer_cart.html", position=20)
def _cart(customer: Customer, actor: Actor) -> Any:
    """The customer's open cart, from whichever channel (none open: no section)."""
    return cart_detail_queryset(Cart.objects.filter(customer_id=customer.pk, status="open")).first()


POINTS_ENTRIES_SHOWN = 5


@customer_page_section("points", _("Loyalty points"), "admin/orders/_customer_points.html", position=30)
def _points(customer: Customer, actor: Actor) -> Any:
    """The balance, loyalty number, debt and latest ledger entries (no account yet: no section)."""
    account = LoyaltyAccount.objects.filter(customer_id=customer.pk).first()
    if account is None:
        return None
    return {
        "account": account,
        "entries": loyalty_recent_entries(account=account, limit=POINTS_ENTRIES_SHOWN),
    }
