"""Loyalty points in the kernel (issue 22): the ledger always equals the balance (Hypothesis over
earn / burn / expire / reverse sequences), FIFO expiry against burns, debt on a reversal of points
already spent settled by the next earn, two channels burning the same points at once (PostgreSQL
threads), the balance repair and the beat schedule."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from oms.actors import Actor
from oms.loyalty.errors import InsufficientPoints, LoyaltyNotOffered
from oms.loyalty.rules import loyalty_rule_set, loyalty_rules_cache_clear
from oms.loyalty.selectors import loyalty_account_find
from oms.loyalty.services import (
    loyalty_account_open,
    loyalty_accounts_repair,
    loyalty_burn,
    loyalty_earn_in_transaction,
    loyalty_expire,
    loyalty_number_new,
    loyalty_reverse_in_transaction,
)
from oms.models import Channel, Customer, LoyaltyAccount, LoyaltyEntry
from tests.factories import ChannelFactory

SYSTEM = Actor.system("tests")
WEB = Actor(type="channel", name="web", channel_id=None)


def rule(channel: Channel, *, expiry_days: int | None = None, rate: str = "1", value: str = "0.10") -> None:
    loyalty_rule_set(
        channel=channel,
        points_per_unit=Decimal(rate),
        point_value=Decimal(value),
        expiry_days=expiry_days,
        actor=SYSTEM,
    )


def earn(customer: Customer, channel: Channel, amount: str, reference: str, order_id: int | None = None):
    with transaction.atomic():
        return loyalty_earn_in_transaction(
            customer_id=customer.pk,
            channel_id=channel.pk,
            amount=Decimal(amount),
            currency=channel.currency,
            reference=reference,
            trigger="capture",
            order_id=order_id,
        )


def reverse(customer: Customer, order_id: int, value: str, reference: str):
    with transaction.atomic():
        return loyalty_reverse_in_transaction(
            customer_id=customer.pk,
            order_id=order_id,
            value=Decimal(value),
            reference=reference,
            actor=SYSTEM,
        )


def account_of(customer: Customer) -> LoyaltyAccount:
    return LoyaltyAccount.objects.get(customer=customer)


def assert_ledger_consistent(account: LoyaltyAccount) -> None:
    account.refresh_from_db()
    sums = account.entries.aggregate(points=Sum("points"), debt=Sum("debt_delta"), left=Sum("remaining"))
    assert account.balance == (sums["points"] or 0) == (sums["left"] or 0)
    assert account.debt == (sums["debt"] or 0)
    assert account.balance >= 0
    assert account.debt >= 0


@pytest.fixture
def web(db) -> Channel:
    channel = ChannelFactory(code="web")
    rule(channel, expiry_days=30)
    return channel


@pytest.fixture
def customer(db) -> Customer:
    return Customer.objects.create(email="an@example.com", email_normalized="an@example.com", name="An")


def test_a_loyalty_number_has_a_luhn_check_digit_and_finds_the_account(customer):
    number = loyalty_number_new()
    assert len(number) == 12
    total = sum(
        (d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d))
        for i, d in enumerate(int(c) for c in reversed(number))
    )
    assert total % 10 == 0
    account = loyalty_account_open(customer_id=customer.pk)
    assert loyalty_account_open(customer_id=customer.pk) == account  # created once
    spaced = f"{account.loyalty_number[:4]} {account.loyalty_number[4:8]}-{account.loyalty_number[8:]}"
    found = loyalty_account_find(loyalty_number=spaced)
    assert found is not None
    assert found.customer == customer


def test_an_earn_is_once_per_reference_and_follows_the_rule(web, customer):
    entry = earn(customer, web, "123.99", "capture:1")
    assert entry is not None
    assert (entry.points, entry.remaining, entry.amount) == (123, 123, Decimal("123.99"))
    assert entry.expires_at is not None
    assert earn(customer, web, "123.99", "capture:1") is None  # a retried capture earns nothing more
    assert account_of(customer).balance == 123
    other = ChannelFactory(code="marketplace")  # no rule: nothing earned
    assert earn(customer, other, "50", "capture:2") is None
    assert account_of(customer).balance == 123


def test_burning_takes_the_points_and_records_their_value(web, customer):
    earn(customer, web, "100", "capture:1")
    burn = loyalty_burn(customer_id=customer.pk, points=60, channel_id=web.pk, actor=SYSTEM)
    assert (burn.entry.points, burn.entry.amount, burn.entry.currency) == (-60, Decimal("6.00"), "USD")
    with pytest.raises(InsufficientPoints) as refused:
        loyalty_burn(customer_id=customer.pk, points=41, channel_id=web.pk, actor=SYSTEM)
    assert refused.value.extra == {"balance": 40, "points": 41}
    assert account_of(customer).balance == 40
    with pytest.raises(LoyaltyNotOffered):
        loyalty_burn(
            customer_id=customer.pk, points=1, channel_id=ChannelFactory(code="social").pk, actor=SYSTEM
        )
    assert_ledger_consistent(account_of(customer))


def test_expiry_is_first_in_first_out_against_burns(web, customer):
    earn(customer, web, "100", "capture:old")  # expires in 30 days
    rule(web, expiry_days=90)
    loyalty_rules_cache_clear()
    earn(customer, web, "50", "capture:new")  # expires in 90 days
    loyalty_burn(customer_id=customer.pk, points=70, channel_id=web.pk, actor=SYSTEM)  # 70 of the old 100
    assert loyalty_expire(now=timezone.now() + timedelta(days=31)) == 30  # what the old earn had left
    assert account_of(customer).balance == 50
    assert loyalty_expire(now=timezone.now() + timedelta(days=31)) == 0  # idempotent
    assert loyalty_expire(now=timezone.now() + timedelta(days=91)) == 50
    assert account_of(customer).balance == 0
    assert_ledger_consistent(account_of(customer))


def test_a_reversal_of_spent_points_is_a_debt_settled_by_the_next_earn(web, customer):
    earn(customer, web, "100", "capture:1", order_id=7)
    loyalty_burn(customer_id=customer.pk, points=80, channel_id=web.pk, actor=SYSTEM)
    entry = reverse(customer, 7, "50", "return:1")  # half the order back: 50 points, 20 left
    assert entry is not None
    assert (entry.points, entry.debt_delta) == (-20, 30)
    account = account_of(customer)
    assert (account.balance, account.debt) == (0, 30)
    assert reverse(customer, 7, "50", "return:1") is None  # once per return
    assert reverse(customer, 7, "80", "return:2").debt_delta == 50  # never more than the order earned
    assert reverse(customer, 7, "10", "return:3") is None
    earn(customer, web, "60", "capture:2")
    account.refresh_from_db()
    assert (account.balance, account.debt) == (0, 20)  # 60 earned, all of it settles debt
    earn(customer, web, "25", "capture:3")
    account.refresh_from_db()
    assert (account.balance, account.debt) == (5, 0)
    kinds = list(account.entries.order_by("pk").values_list("kind", "points", "debt_delta"))
    assert kinds[-2:] == [("earn", 25, 0), ("debt_settle", -20, -20)]
    assert_ledger_consistent(account)


def test_the_repair_puts_a_drifted_balance_back_to_the_ledger(web, customer):
    earn(customer, web, "30", "capture:1")
    LoyaltyAccount.objects.filter(customer=customer).update(balance=99, debt=4)
    assert loyalty_accounts_repair() == 1
    account = account_of(customer)
    assert (account.balance, account.debt) == (30, 0)
    assert loyalty_accounts_repair() == 0


def test_the_beat_schedule_expires_and_repairs():
    from config.celery_app import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"oms.tasks.loyalty_expire", "oms.tasks.loyalty_accounts_repair"} <= tasks


# --- Hypothesis: the ledger equals the balance --------------------------------------------------------

steps = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(min_value=0, max_value=300), st.sampled_from([None, 10, 40])),
        st.tuples(st.just("burn"), st.integers(min_value=1, max_value=200), st.just(None)),
        st.tuples(st.just("expire"), st.integers(min_value=0, max_value=60), st.just(None)),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=300), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_the_ledger_always_equals_the_balance(web, steps):
    customer = Customer.objects.create(name="H")
    for n, (op, number, extra) in enumerate(steps):
        if op == "earn":
            rule(web, expiry_days=extra)
            loyalty_rules_cache_clear()
            earn(customer, web, str(number), f"h:{customer.pk}:{n}", order_id=n % 4)
        elif op == "burn":
            with contextlib.suppress(InsufficientPoints):
                loyalty_burn(customer_id=customer.pk, points=number, channel_id=web.pk, actor=SYSTEM)
        elif op == "expire":
            loyalty_expire(now=timezone.now() + timedelta(days=number))
        else:
            reverse(customer, extra, str(number), f"r:{customer.pk}:{n}")
        account = LoyaltyAccount.objects.filter(customer=customer).first()
        if account is not None:
            assert_ledger_consistent(account)
            # the reversals of an order never exceed what it earned
            for order_id in range(4):
                entries = account.entries.filter(order_id=order_id)
                earned = entries.filter(kind="earn").aggregate(s=Sum("points"))["s"] or 0
                taken = sum(-e.points + e.debt_delta for e in entries.filter(kind="reverse"))
                assert taken <= earned


# --- Two channels burning the same points at once (PostgreSQL) -----------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_channels_burning_the_same_points_at_once_one_wins(make_channel_client):
    web, pos = make_channel_client("web"), make_channel_client("pos", "pos")
    for client in (web, pos):
        rule(client.channel)
    customer = Customer.objects.create(email="an@example.com", email_normalized="an@example.com")
    for client in (web, pos):  # both channels have served the customer: both may see them
        customer.channel_refs.create(channel=client.channel, external_id=f"{client.channel.code}-1")
    earn(customer, web.channel, "100", "capture:seed")
    for attempt in range(3):  # a few rounds, so that the two requests really overlap at least once
        if attempt:
            earn(customer, web.channel, "100", f"capture:{attempt}")
        barrier = threading.Barrier(2, timeout=30)
        answers: list[tuple[int, str]] = []

        def burn(client, answers=answers, barrier=barrier) -> None:
            try:
                barrier.wait()
                response = client.api.post(
                    f"/api/v1/customers/{customer.pk}/loyalty/burn", {"points": 100}, format="json"
                )
                answers.append((response.status_code, response.json().get("code", "")))
            finally:
                connection.close()

        threads = [threading.Thread(target=burn, args=(c,)) for c in (web, pos)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(answers) == [(201, ""), (409, "insufficient_points")]
        assert_ledger_consistent(account_of(customer))
        assert account_of(customer).balance == 0
    burns = LoyaltyEntry.objects.filter(kind="burn")
    assert burns.count() == 3
    assert {entry.channel_id for entry in burns} <= {web.channel.pk, pos.channel.pk}


# --- Admin and search ---------------------------------------------------------------------------------


def test_the_admin_shows_accounts_and_ledger_read_only_and_finds_a_loyalty_number(manager, web, customer):
    from django.contrib.auth import get_user_model
    from django.test import Client

    earn(customer, web, "42", "capture:admin")
    account = account_of(customer)
    client = Client()
    client.force_login(get_user_model().objects.get(username="manager"))
    found = client.get("/admin/oms/loyaltyaccount/", {"q": account.loyalty_number})
    assert found.status_code == 200
    assert account.loyalty_number in found.content.decode()
    page = client.get(f"/admin/oms/loyaltyaccount/{account.pk}/change/")
    assert page.status_code == 200
    assert "capture:admin" in page.content.decode()  # the ledger, inline
    assert client.get("/admin/oms/loyaltyentry/").status_code == 200
    assert client.get("/admin/oms/loyaltyentry/add/").status_code == 403  # append-only: never by hand
    assert client.get("/admin/oms/loyaltyrule/").status_code == 200
    listed = manager.api.get(
        "/api/v1/customers", {"loyalty_number": f"{account.loyalty_number[:6]} {account.loyalty_number[6:]}"}
    )
    assert [c["id"] for c in listed.json()["results"]] == [customer.pk]


def test_erasing_a_customer_gives_their_account_a_new_number(web, customer):
    from oms.customers import customer_erase

    earn(customer, web, "10", "capture:erase")
    number = account_of(customer).loyalty_number
    customer_erase(customer_id=customer.pk, actor=SYSTEM)
    account = account_of(customer)
    assert account.loyalty_number != number
    assert loyalty_account_find(loyalty_number=number) is None
    assert account.balance == 10  # the points and their ledger stay


def test_an_earn_and_a_burn_take_a_fixed_number_of_statements(web, customer, django_assert_num_queries):
    from oms.loyalty.rules import loyalty_rule_for_channel

    earn(customer, web, "100", "capture:first")  # the account exists; the rules are cached
    assert loyalty_rule_for_channel(web.pk) is not None
    # savepoint; lock the account, the reference's check, the entry, the counters, the outbox; release
    with django_assert_num_queries(7):
        earn(customer, web, "100", "capture:second")
    # savepoint; the account, the conditional UPDATE, its balance, the earns spent, their remaining,
    # the entry, the outbox; release
    with django_assert_num_queries(9):
        loyalty_burn(customer_id=customer.pk, points=150, channel_id=web.pk, actor=SYSTEM)
