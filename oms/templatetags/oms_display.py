"""Template filters of the admin screens: ``{{ amount|money:currency }}``, ``{{ moment|when }}``,
``{{ status|label }}`` (``ready_for_pickup`` as ``Ready for pickup``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django import template

from oms.display import money_display, status_label, when_display

register = template.Library()


@register.filter
def money(amount: Decimal | str | None, currency: str) -> str:
    return money_display(amount, currency)


@register.filter
def when(moment: datetime | str | None) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment) if moment else None
    return when_display(moment)


@register.filter
def label(code: Any) -> str:
    return status_label(str(code or ""))
