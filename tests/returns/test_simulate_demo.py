"""What ./scripts/demo shows after its simulation: regular customers with a history across
channels, and a summary of the e-mails instead of the e-mails themselves."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from oms.models import Customer, NotificationLog
from orders.models import OrderEvent
from returns.models import Return
from returns.simulation import REGULARS, SHOWCASE_CUSTOMERS


@pytest.fixture
def demo(transactional_db, settings):  # committed: the e-mails leave after COMMIT
    settings.OMS_FAKE_GATEWAY_DECLINE_ABOVE = "100000000"  # as scripts/demo sets it for VND
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    call_command("seed_demo", stdout=StringIO())


def simulate(*extra: str) -> str:
    out = StringIO()
    call_command("simulate", "--orders", "30", "--days", "3", *extra, stdout=out)
    return out.getvalue()


def test_regulars_have_a_history_and_the_e_mails_are_counted_not_printed(demo, capsys):
    output = simulate()
    # the first regulars ordered on the web, in the app and at a till, and returned something
    for name, email, _phone, _language in REGULARS[:SHOWCASE_CUSTOMERS]:
        customer = Customer.objects.get(email=email)
        assert customer.name == name
        channels = set(customer.orders.values_list("channel__code", flat=True))
        assert {"web", "app", "pos"} <= channels, email
        assert Return.objects.filter(order__customer=customer).exists(), email
        assert email in output  # listed under "Customers with orders across channels"
    assert "Customers with orders across channels" in output
    # every e-mail was rendered and logged, none printed: the summary counts them
    sent = NotificationLog.objects.filter(status="sent").count()
    assert sent > 30  # a confirmation per order, and more
    assert f"e-mails (not printed: --print-emails) │ {sent:>5}" in output
    assert "e-mails order_confirmation" in output
    assert "Subject:" not in output + capsys.readouterr().out
    # ship orders without coordinates were placed by the offline geocoder
    assert OrderEvent.objects.filter(
        kind="sourced", message__contains="The address has no coordinates: placed by city"
    ).exists()


def test_print_emails_sends_them_to_the_console(demo, capsys):
    output = simulate("--print-emails")
    assert "e-mails (printed above)" in output
    assert "Subject: " in capsys.readouterr().out


def test_the_credentials_name_the_port(db, tmp_path, monkeypatch):
    from inventory.management.commands import demo_credentials

    monkeypatch.setattr(demo_credentials, "CREDENTIALS_FILE", tmp_path / ".demo-credentials")
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("demo_credentials", "--port", "8123", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines[0] == "Demo OMS on http://127.0.0.1:8123"
    assert lines[-1].startswith("  Manager token:    Authorization: Bearer omsstaff_")
    saved = json.loads((tmp_path / ".demo-credentials").read_text())
    again = StringIO()
    call_command("demo_credentials", "--port", "8123", stdout=again)
    assert saved["manager"] in again.getvalue()  # the same secrets the second time
