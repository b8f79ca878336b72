"""One customer behind an order's details: matched by e-mail, then by phone (a customer without
another e-mail), then by the channel's own id; created when nothing matches.

These run on both backends: PostgreSQL resolves (and creates) in one statement, SQLite with the
ORM, and the two must agree."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oms.models import ChannelCustomerRef, Customer
from orders.services import CustomerInput, customer_resolve
from tests.factories import ChannelFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def web():
    return ChannelFactory(code="web")


def resolve(channel, **details) -> Customer | None:
    return customer_resolve(channel=channel, data=CustomerInput(**details))


def test_no_details_no_customer(web):
    assert resolve(web) is None
    assert resolve(web, name="Only A Name") is None
    assert not Customer.objects.exists()


def test_a_new_email_makes_one_customer_and_the_same_email_finds_it(web):
    first = resolve(web, email=" Lan.Nguyen@Example.COM ", name="Lan", phone="+84 90 123 4567")
    assert first is not None
    assert first.pk
    stored = Customer.objects.get()
    assert (stored.email, stored.email_normalized, stored.name) == (
        "Lan.Nguyen@Example.COM",
        "lan.nguyen@example.com",
        "Lan",
    )
    assert stored.phone_normalized == first.phone_normalized != ""
    assert stored.created_at is not None
    assert stored.language == "en"
    again = resolve(ChannelFactory(code="pos"), email="lan.nguyen@example.com", name="Someone Else")
    assert again.pk == first.pk
    assert Customer.objects.count() == 1
    assert Customer.objects.get().name == "Lan"  # a name it has is not overwritten


def test_the_returned_customer_is_the_stored_row(web):
    customer = resolve(web, email="row@example.com", name="Row", language="vi")
    stored = Customer.objects.get(pk=customer.pk)
    for field in Customer._meta.concrete_fields:
        assert getattr(customer, field.attname) == getattr(stored, field.attname), field.name
    assert not customer._state.adding


def test_email_comes_before_phone(web):
    by_phone = CustomerFactory(
        email="", email_normalized="", phone="0901111111", phone_normalized="0901111111"
    )
    by_email = CustomerFactory(email="a@example.com")
    found = resolve(web, email="A@example.com", phone="0901111111")
    assert found.pk == by_email.pk
    assert by_phone.pk != by_email.pk


def test_a_phone_matches_a_customer_without_another_email_and_fills_it_in(web):
    known = CustomerFactory(
        email="", email_normalized="", name="", phone="0902222222", phone_normalized="0902222222"
    )
    found = resolve(web, email="new@example.com", phone="0902222222", name="Minh")
    assert found.pk == known.pk
    known.refresh_from_db()
    assert (known.email_normalized, known.name) == ("new@example.com", "Minh")


def test_a_phone_does_not_match_a_customer_with_another_email(web):
    other = CustomerFactory(email="other@example.com", phone="0903333333", phone_normalized="0903333333")
    found = resolve(web, email="mine@example.com", phone="0903333333")
    assert found.pk != other.pk
    assert Customer.objects.count() == 2


def test_a_phone_alone_matches_the_oldest_customer_with_it_but_no_erased_one(web):
    CustomerFactory(
        email="",
        email_normalized="",
        phone="0904444444",
        phone_normalized="0904444444",
        erased_at=timezone.now(),
    )
    older = CustomerFactory(email="x@example.com", phone="0904444444", phone_normalized="0904444444")
    CustomerFactory(email="y@example.com", phone="0904444444", phone_normalized="0904444444")
    assert resolve(web, phone="0904444444").pk == older.pk


def test_a_phone_alone_makes_a_customer_without_email(web):
    first = resolve(web, phone="0905555555", name="Phone Only")
    assert first.email_normalized == ""
    assert resolve(web, phone="0905555555").pk == first.pk
    second = resolve(web, phone="0906666666")
    assert second.pk != first.pk
    assert Customer.objects.count() == 2


def test_the_channels_own_id_matches_only_on_that_channel(web):
    pos = ChannelFactory(code="pos")
    known = CustomerFactory(email="", email_normalized="")
    ChannelCustomerRef.objects.create(channel=web, external_id="C-42", customer=known)
    assert resolve(web, external_id="C-42", name="Known").pk == known.pk
    elsewhere = resolve(pos, external_id="C-42")
    assert elsewhere.pk != known.pk
    assert ChannelCustomerRef.objects.get(channel=pos, external_id="C-42").customer_id == elsewhere.pk


def test_a_new_customer_by_email_is_one_statement_on_postgresql(web):
    if connection.vendor != "postgresql":
        pytest.skip("the single statement is PostgreSQL's; SQLite uses the ORM")
    resolve(web, email="warm@example.com")
    with CaptureQueriesContext(connection) as new:
        resolve(web, email="fresh@example.com", name="Fresh")
    with CaptureQueriesContext(connection) as known:
        resolve(web, email="fresh@example.com", name="Fresh")
    assert len(new.captured_queries) == 1, [q["sql"][:80] for q in new.captured_queries]
    assert len(known.captured_queries) == 1
