"""The admin start page's "Today at my store" panel (``{% store_day_panel %}`` in the admin index):
the user's store, or the one a manager picks (``?location=``), read by ``fulfillment.selectors
.store_day``; and ``|age``, a wait as "2 h 05 min"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.utils import timezone

from fulfillment.selectors import store_day, store_day_locations
from inventory.admin import admin_actor
from oms.errors import NotFound
from oms.lookups import pk_or_none

register = template.Library()


@register.inclusion_tag("admin/fulfillment/store_day.html", takes_context=True)
def store_day_panel(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    actor = admin_actor(request)
    if not actor.is_staff:
        return {"day": None}
    choices = list(store_day_locations(actor))
    picked = pk_or_none(request.GET.get("location"))
    if picked is None and actor.is_associate and choices:
        picked = choices[0].pk  # an associate's day is one store's: their first, until they pick
    try:
        day = store_day(actor=actor, location_id=picked, now=timezone.now())
    except NotFound:
        picked, day = None, store_day(actor=actor, now=timezone.now())
    return {"day": day, "choices": choices, "picked": picked, "everywhere": actor.is_manager}


@register.filter
def age(value: timedelta | None) -> str:
    """A wait as people say it: "3 d 4 h", "2 h 05 min", "12 min", "now"."""
    if value is None:
        return ""
    minutes = max(0, int(value.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else "now"
