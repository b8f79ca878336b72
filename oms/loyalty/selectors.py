"""The reads of loyalty: a customer's account and ledger, an account by the number a customer
quotes. Who may see a customer is the customers' rule (``orders.selectors.customer_get_for_actor``
in the API); these take a customer already allowed."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import LoyaltyAccount, LoyaltyEntry, LoyaltyRule

RECENT_ENTRIES = 10


def loyalty_entries(*, account: LoyaltyAccount) -> QuerySet[LoyaltyEntry]:
    """The account's ledger, newest first, with each entry's channel."""
    return LoyaltyEntry.objects.filter(account=account).select_related("channel").order_by("-pk")


def loyalty_recent_entries(*, account: LoyaltyAccount, limit: int = RECENT_ENTRIES) -> list[LoyaltyEntry]:
    return list(loyalty_entries(account=account)[:limit])


def loyalty_account_find(*, loyalty_number: str) -> LoyaltyAccount | None:
    """The account of a loyalty number (spaces and dashes as a customer may say them ignored)."""
    digits = "".join(ch for ch in loyalty_number if ch.isdigit())
    if not digits:
        return None
    return LoyaltyAccount.objects.select_related("customer").filter(loyalty_number=digits).first()


def loyalty_rule_list() -> QuerySet[LoyaltyRule]:
    return LoyaltyRule.objects.select_related("channel").order_by("channel__code")
