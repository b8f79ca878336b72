"""The writes of loyalty: earn, burn, expire, reverse on return, repair (docs/loyalty.md).

Every write locks the customer's account row first (a conditional ``UPDATE ... WHERE balance >= n``
for a burn), so two channels spending the same points wait for each other and the second sees what
the first left: 409 ``insufficient_points``, never a negative balance (CHECK ``balance >= 0``).
Points are spent first in, first out: each negative entry takes the ``remaining`` of the earns that
expire first (never-expiring ones last), then the oldest; an expiry takes what an earn has left.
So ``balance`` = sum of the ledger = sum of ``remaining`` at every commit. The ``*_in_transaction``
functions run inside a caller's transaction (a capture's settlement, a refund); the others are
top-level and durable."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from oms import events
from oms.actors import Actor
from oms.errors import CustomerNotFound, InvalidInput
from oms.models import Customer

from .choices import LoyaltyEntryKind, LoyaltyTrigger
from .errors import InsufficientPoints, LoyaltyNotOffered
from .models import LoyaltyAccount, LoyaltyEntry
from .rules import loyalty_rule_for_channel

logger = logging.getLogger(__name__)

LOYALTY = Actor.system("loyalty")
KIND = LoyaltyEntryKind
NUMBER_DIGITS = 12


# --- The account ----------------------------------------------------------------------------------


def loyalty_number_new() -> str:
    """A new loyalty number: 11 random digits and a Luhn check digit (a mistyped digit is caught)."""
    body = str(secrets.randbelow(9 * 10 ** (NUMBER_DIGITS - 2)) + 10 ** (NUMBER_DIGITS - 2))
    total = 0
    for i, digit in enumerate(reversed(body)):
        d = int(digit) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _account_get_or_create(customer_id: int) -> LoyaltyAccount:
    account = LoyaltyAccount.objects.filter(customer_id=customer_id).first()
    if account is not None:
        return account
    if not Customer.objects.filter(pk=customer_id).exists():
        raise CustomerNotFound(f"No customer {customer_id}.")
    for _ in range(5):  # a loyalty number drawn twice: draw again
        # INSERT ... ON CONFLICT DO NOTHING: two first uses at once make one account
        LoyaltyAccount.objects.bulk_create(
            [LoyaltyAccount(customer_id=customer_id, loyalty_number=loyalty_number_new())],
            ignore_conflicts=True,
        )
        account = LoyaltyAccount.objects.filter(customer_id=customer_id).first()
        if account is not None:
            return account
    raise IntegrityError("could not draw a free loyalty number")  # pragma: no cover


def _account_locked(customer_id: int) -> LoyaltyAccount:
    """The customer's account, created on first use, locked for the rest of the transaction (one
    statement when it exists)."""
    account = LoyaltyAccount.objects.select_for_update().filter(customer_id=customer_id).first()
    if account is not None:
        return account
    pk = _account_get_or_create(customer_id).pk
    return LoyaltyAccount.objects.select_for_update().get(pk=pk)


def loyalty_number_forget(*, customer_id: int) -> None:
    """In the erasure's transaction: the account (if any) gets a new, unrelated loyalty number."""
    account = LoyaltyAccount.objects.select_for_update().filter(customer_id=customer_id).first()
    if account is not None:
        account.loyalty_number = loyalty_number_new()
        account.save(update_fields=["loyalty_number", "updated_at"])


@transaction.atomic(durable=True)
def loyalty_account_open(*, customer_id: int) -> LoyaltyAccount:
    """The customer's account, created (with its loyalty number) if it does not exist yet."""
    return _account_get_or_create(customer_id)


# --- Spending remaining points, first in first out ------------------------------------------------


def _spend(account: LoyaltyAccount, points: int, *, order_id: int | None = None) -> None:
    """Take ``points`` from the ``remaining`` of the (locked) account's positive entries: those of
    ``order_id`` first when given (a reversal takes back that order's own points), then those that
    expire first, never-expiring last, oldest first."""
    if points <= 0:
        return
    rows = LoyaltyEntry.objects.filter(account=account, remaining__gt=0).order_by(
        F("expires_at").asc(nulls_last=True), "pk"
    )
    entries = list(rows)
    if order_id is not None:
        entries.sort(key=lambda entry: entry.order_id != order_id)  # stable: FIFO within each part
    changed = []
    for entry in entries:
        if points <= 0:
            break
        taken = min(points, entry.remaining)
        entry.remaining -= taken
        points -= taken
        changed.append(entry)
    if points > 0:  # the balance said they were there: the ledger is inconsistent
        raise RuntimeError(f"loyalty account {account.pk} has {points} point(s) fewer than its balance")
    LoyaltyEntry.objects.bulk_update(changed, ["remaining"])


def _entry(
    account: LoyaltyAccount, *, kind: str, points: int, actor: Actor, debt_delta: int = 0, **fields
) -> LoyaltyEntry:
    return LoyaltyEntry.objects.create(
        account=account,
        kind=kind,
        points=points,
        remaining=points if points > 0 else 0,
        debt_delta=debt_delta,
        actor_type=actor.type,
        actor_name=actor.name[:200],
        **fields,
    )


def _move(account: LoyaltyAccount, *, points: int, debt: int = 0) -> None:
    """The account's counters follow its new entries (one UPDATE with F())."""
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        balance=F("balance") + points, debt=F("debt") + debt, updated_at=timezone.now()
    )
    account.balance += points
    account.debt += debt


def _announce(topic: str, account: LoyaltyAccount, entry: LoyaltyEntry, **extra) -> None:
    events.publish(
        topic=topic,
        payload={
            "customer_id": account.customer_id,
            "loyalty_number": account.loyalty_number,
            "entry_id": entry.pk,
            "kind": entry.kind,
            "points": entry.points,
            "balance": account.balance,
            "debt": account.debt,
            "order_id": entry.order_id,
            "reference": entry.reference,
            **extra,
        },
    )


# --- Earn -------------------------------------------------------------------------------------------


def points_for(amount: Decimal, rate: Decimal) -> int:
    """Whole points for ``amount`` at ``rate`` points per unit, rounded down."""
    return int((amount * rate).to_integral_value(rounding=ROUND_FLOOR))


def loyalty_earn_in_transaction(
    *,
    customer_id: int,
    channel_id: int,
    amount: Decimal,
    currency: str,
    reference: str,
    trigger: str,
    order_id: int | None = None,
    actor: Actor = LOYALTY,
) -> LoyaltyEntry | None:
    """Earn on ``amount`` paid on the channel, if its active rule earns on ``trigger`` in that
    currency; once per ``reference`` (a retried capture earns nothing more). The earn settles the
    account's debt first (a ``debt_settle`` entry). None when nothing is earned."""
    rule = loyalty_rule_for_channel(channel_id)
    if rule is None or rule.trigger != trigger or rule.channel.currency != currency:
        return None
    points = points_for(amount, rule.points_per_unit)
    if points <= 0:
        return None
    account = _account_locked(customer_id)
    if LoyaltyEntry.objects.filter(kind=KIND.EARN, reference=reference).exists():
        return None
    expires_at = timezone.now() + timedelta(days=rule.expiry_days) if rule.expiry_days else None
    entry = _entry(
        account,
        kind=KIND.EARN,
        points=points,
        actor=actor,
        reference=reference,
        order_id=order_id,
        amount=amount,
        currency=currency,
        channel_id=channel_id,
        expires_at=expires_at,
    )
    settled = min(points, account.debt)
    if settled:
        _spend(account, settled)
        entry.refresh_from_db(fields=["remaining"])
        _entry(
            account,
            kind=KIND.DEBT_SETTLE,
            points=-settled,
            debt_delta=-settled,
            actor=actor,
            reference=f"{reference}:debt",
            order_id=order_id,
            channel_id=channel_id,
        )
    _move(account, points=points - settled, debt=-settled)
    _announce("loyalty.earned", account, entry, debt_settled=settled)
    return entry


# --- Burn -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Burn:
    entry: LoyaltyEntry
    replayed: bool = False


def loyalty_burn_in_transaction(
    *,
    customer_id: int,
    points: int,
    channel_id: int,
    actor: Actor,
    order_id: int | None = None,
    reference: str = "",
) -> Burn:
    """Pay with ``points`` on the channel: their value at the channel's rule (``point_value`` each)
    is recorded on the entry, for ``order_id`` when given. One conditional UPDATE takes the points
    (``balance >= points``); 409 ``insufficient_points`` otherwise. A repeated ``reference`` answers
    the first burn (``replayed``)."""
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise InvalidInput("Burn a whole number of points above zero.", code="invalid_points")
    rule = loyalty_rule_for_channel(channel_id)
    if rule is None:
        raise LoyaltyNotOffered(extra={"channel": channel_id})
    if reference:
        # locked first: a concurrent repeat of the key waits here, then finds the first burn
        account = _account_locked(customer_id)
        existing = LoyaltyEntry.objects.filter(kind=KIND.BURN, reference=reference).first()
        if existing is not None:
            if (existing.account_id, existing.points, existing.order_id) != (account.pk, -points, order_id):
                raise InvalidInput(
                    "This key was used for another burn.",
                    code="idempotency_key_reused",
                    extra={"entry": existing.pk},
                )
            return Burn(entry=existing, replayed=True)
    else:
        account = _account_get_or_create(customer_id)
    taken = LoyaltyAccount.objects.filter(pk=account.pk, balance__gte=points).update(
        balance=F("balance") - points, updated_at=timezone.now()
    )
    account.refresh_from_db(fields=["balance", "debt"])
    if not taken:
        raise InsufficientPoints(
            f"The customer has {account.balance} point(s), not {points}.",
            extra={"balance": account.balance, "points": points},
        )
    _spend(account, points)
    entry = _entry(
        account,
        kind=KIND.BURN,
        points=-points,
        actor=actor,
        reference=reference,
        order_id=order_id,
        amount=rule.point_value * points,
        currency=rule.channel.currency,
        channel_id=channel_id,
    )
    _announce("loyalty.burned", account, entry, value=str(entry.amount), currency=entry.currency)
    return Burn(entry=entry)


# ``loyalty_burn_in_transaction`` in a top-level transaction of its own
loyalty_burn = transaction.atomic(durable=True)(loyalty_burn_in_transaction)


def loyalty_tender_for_order(*, order_id: int) -> Decimal:
    """The value of the points burnt for an order (the part of its total paid with points)."""
    value = LoyaltyEntry.objects.filter(kind=KIND.BURN, order_id=order_id).aggregate(v=Sum("amount"))["v"]
    return value or Decimal("0.00")


# --- Reverse on return ------------------------------------------------------------------------------


def loyalty_reverse_in_transaction(
    *, customer_id: int, order_id: int, value: Decimal, reference: str, actor: Actor
) -> LoyaltyEntry | None:
    """Take back the points the order earned on units now returned, worth ``value``: the order's
    points pro rata (``value`` / what it earned on), never more than it earned minus earlier
    reversals. What the balance no longer holds (spent already) becomes debt, settled by the next
    earns. Once per ``reference``; None when there is nothing to take back."""
    mine = LoyaltyEntry.objects.filter(account__customer_id=customer_id, order_id=order_id)
    earned = mine.filter(kind=KIND.EARN).aggregate(points=Sum("points"), basis=Sum("amount"))
    if not earned["points"] or not earned["basis"]:
        return None
    account = _account_locked(customer_id)
    if LoyaltyEntry.objects.filter(kind=KIND.REVERSE, reference=reference).exists():
        return None
    earlier = mine.filter(kind=KIND.REVERSE).aggregate(taken=Sum(F("debt_delta") - F("points")))["taken"] or 0
    due = min(points_for(value, Decimal(earned["points"]) / earned["basis"]), earned["points"] - earlier)
    if due <= 0:
        return None
    taken = min(due, account.balance)
    _spend(account, taken, order_id=order_id)
    entry = _entry(
        account,
        kind=KIND.REVERSE,
        points=-taken,
        debt_delta=due - taken,
        actor=actor,
        reference=reference,
        order_id=order_id,
        amount=value,
    )
    _move(account, points=-taken, debt=due - taken)
    _announce("loyalty.reversed", account, entry, debt_recorded=due - taken)
    return entry


# --- Expire -----------------------------------------------------------------------------------------


def _expired(now: datetime) -> Q:
    return Q(remaining__gt=0, expires_at__lte=now)


@transaction.atomic(durable=True)
def loyalty_account_expire(*, account_id: int, now: datetime | None = None) -> int:
    """Expire what the account's earns past their expiry have left (one ``expire`` entry each);
    answers the points expired. Idempotent: an expired earn has nothing left."""
    now = now or timezone.now()
    account = LoyaltyAccount.objects.select_for_update().get(pk=account_id)
    earns = list(LoyaltyEntry.objects.filter(_expired(now), account=account).order_by("pk"))
    total = 0
    for earn in earns:
        _entry(
            account,
            kind=KIND.EXPIRE,
            points=-earn.remaining,
            actor=LOYALTY,
            reference=f"expire:{earn.pk}",
            order_id=earn.order_id,
            channel_id=earn.channel_id,
        )
        total += earn.remaining
        earn.remaining = 0
    if not total:
        return 0
    LoyaltyEntry.objects.bulk_update(earns, ["remaining"])
    _move(account, points=-total)
    events.publish(
        topic="loyalty.expired",
        payload={"customer_id": account.customer_id, "points": -total, "balance": account.balance},
    )
    return total


def loyalty_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Beat: expire the points past their expiry, one short transaction per account (at most
    ``limit`` accounts a run); answers the points expired."""
    now = now or timezone.now()
    account_ids = (
        LoyaltyEntry.objects.filter(_expired(now)).order_by("account_id").values_list("account_id", flat=True)
    )
    return sum(loyalty_account_expire(account_id=pk, now=now) for pk in list(account_ids.distinct()[:limit]))


# --- Repair -----------------------------------------------------------------------------------------


def loyalty_accounts_repair() -> int:
    """Beat: set any account whose balance or debt differs from its ledger back to the ledger's sums
    (a denormalised counter repaired from its source rows); answers how many were wrong."""
    sums = LoyaltyEntry.objects.filter(account=OuterRef("pk")).order_by().values("account")
    ledger = sums.annotate(s=Sum("points")).values("s")
    debt = sums.annotate(s=Sum("debt_delta")).values("s")
    wrong = (
        LoyaltyAccount.objects.annotate(
            ledger=Coalesce(Subquery(ledger, output_field=IntegerField()), Value(0)),
            ledger_debt=Coalesce(Subquery(debt, output_field=IntegerField()), Value(0)),
        )
        .exclude(balance=F("ledger"), debt=F("ledger_debt"))
        .values_list("pk", flat=True)
    )
    repaired = 0
    for pk in list(wrong):
        with transaction.atomic(durable=True):
            account = LoyaltyAccount.objects.select_for_update().get(pk=pk)
            totals = account.entries.aggregate(points=Sum("points"), debt=Sum("debt_delta"))
            balance, owed = totals["points"] or 0, totals["debt"] or 0
            if (balance, owed) != (account.balance, account.debt):
                logger.warning(
                    "loyalty account %s: balance %s debt %s, ledger says %s and %s",
                    pk,
                    account.balance,
                    account.debt,
                    balance,
                    owed,
                )
                LoyaltyAccount.objects.filter(pk=pk).update(balance=balance, debt=owed)
                repaired += 1
    return repaired


__all__ = [
    "LOYALTY",
    "Burn",
    "LoyaltyTrigger",
    "loyalty_account_expire",
    "loyalty_account_open",
    "loyalty_accounts_repair",
    "loyalty_burn",
    "loyalty_burn_in_transaction",
    "loyalty_earn_in_transaction",
    "loyalty_expire",
    "loyalty_number_forget",
    "loyalty_number_new",
    "loyalty_reverse_in_transaction",
    "loyalty_tender_for_order",
    "points_for",
]
