"""The earning rule of each channel, read on hot paths (every capture, every completion): cached in
the process for ``OMS_LOYALTY_RULE_CACHE_SECONDS`` (one query for all the rules when it is cold),
cleared when a rule changes here and at the latest after that many seconds elsewhere."""

from __future__ import annotations

import time
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from oms.actors import Actor
from oms.errors import InvalidInput, PermissionDenied
from oms.models import Channel

from .choices import LoyaltyTrigger
from .models import LoyaltyRule

_cache: tuple[float, dict[int, LoyaltyRule]] | None = None


def loyalty_rules_cache_clear() -> None:
    global _cache
    _cache = None


def loyalty_rule_for_channel(channel_id: int | None) -> LoyaltyRule | None:
    """The channel's active rule (None without one)."""
    global _cache
    if channel_id is None:
        return None
    ttl = settings.OMS_LOYALTY_RULE_CACHE_SECONDS
    now = time.monotonic()
    cached = _cache
    if cached is None or ttl <= 0 or now - cached[0] > ttl:
        rules = LoyaltyRule.objects.filter(active=True).select_related("channel")
        cached = (now, {rule.channel_id: rule for rule in rules})
        _cache = cached
    return cached[1].get(channel_id)


@transaction.atomic(durable=True)
def loyalty_rule_set(
    *,
    channel: Channel,
    points_per_unit: Decimal,
    point_value: Decimal,
    trigger: str = LoyaltyTrigger.CAPTURE,
    expiry_days: int | None = None,
    active: bool = True,
    actor: Actor,
) -> LoyaltyRule:
    """Create or change the channel's rule (managers)."""
    if not (actor.is_manager or actor.is_system):
        raise PermissionDenied("Only a manager may change a loyalty rule.")
    if points_per_unit < 0 or point_value < 0:
        raise InvalidInput("Rates are never negative.", code="invalid_loyalty_rule")
    if trigger not in LoyaltyTrigger.values:
        raise InvalidInput(f"Unknown trigger '{trigger}'.", code="invalid_loyalty_rule")
    rule, _ = LoyaltyRule.objects.update_or_create(
        channel=channel,
        defaults={
            "points_per_unit": points_per_unit,
            "point_value": point_value,
            "trigger": trigger,
            "expiry_days": expiry_days,
            "active": active,
        },
    )
    loyalty_rules_cache_clear()
    transaction.on_commit(loyalty_rules_cache_clear)
    return rule
