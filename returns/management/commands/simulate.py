"""python manage.py simulate --orders N --days D: drive orders from every channel, associate work,
rejections, pickups, expiries and returns through the services, with a progress bar and a summary.

The simulated customers' e-mails are rendered and logged (NotificationLog, the orders' timelines)
but not printed: the summary counts them. ``--print-emails`` sends them to the EMAIL_BACKEND of
the settings instead (the console in the demo: thousands of lines)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oms.errors import DomainError
from oms.models import NotificationLog
from orders.models import Order
from returns.simulation import Simulation

QUIET_EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"


@contextmanager
def _email_backend(backend: str | None) -> Iterator[None]:
    """E-mails sent meanwhile go to ``backend`` (None: the settings' own)."""
    if backend is None:
        yield
        return
    saved = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = backend
    try:
        yield
    finally:
        settings.EMAIL_BACKEND = saved


def cross_channel_customers() -> list[tuple[str, list[str]]]:
    """Customers with orders on three channels or more: (e-mail, channel codes), most first."""
    rows = (
        Order.objects.filter(customer__isnull=False)
        .values("customer__email", "channel__code")
        .distinct()
        .order_by("customer__email", "channel__code")
    )
    channels: dict[str, list[str]] = {}
    for row in rows:
        channels.setdefault(row["customer__email"], []).append(row["channel__code"])
    found = [(email, codes) for email, codes in channels.items() if len(codes) >= 3]
    return sorted(found, key=lambda item: (-len(item[1]), item[0]))


class Command(BaseCommand):
    help = "Simulate N orders over D days on the demo network (run seed_demo first)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--orders", type=int, default=200)
        parser.add_argument("--days", type=int, default=14)
        parser.add_argument("--seed", type=int, default=11)
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if there are orders already (the demo script).",
        )
        parser.add_argument(
            "--print-emails",
            action="store_true",
            help="Send the simulated customers' e-mails to EMAIL_BACKEND (the console in the demo) "
            "instead of counting them in the summary.",
        )

    def handle(self, *args, **options) -> None:
        if options["orders"] < 1 or options["days"] < 1:
            raise CommandError("--orders and --days must be at least 1")
        if options["if_empty"] and Order.objects.exists():
            self.stdout.write("Orders exist already: no simulation (drop --if-empty to add more).")
            return
        try:
            simulation = Simulation(seed=options["seed"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        # OutputWrapper is a TextIOBase, which typeshed does not count as an IO[str]
        console = Console(file=cast(IO[str], self.stdout), force_terminal=False)
        started = timezone.now()
        with (
            _email_backend(None if options["print_emails"] else QUIET_EMAIL_BACKEND),
            Progress(
                TextColumn("simulating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress,
        ):
            task = progress.add_task("orders", total=options["orders"])
            summary = simulation.run(
                orders=options["orders"],
                days=options["days"],
                advance=lambda n: progress.advance(task, n),
            )
        table = Table(title=f"Simulated {options['orders']} orders over {options['days']} days")
        table.add_column("what")
        table.add_column("count", justify="right")
        for key, value in sorted(summary.counts.items()):
            table.add_row(key, str(value))
        statuses = Order.objects.values_list("status", flat=True)
        for status in sorted(set(statuses)):
            table.add_row(f"orders now {status}", str(sum(1 for s in statuses if s == status)))
        self._emails(table, since=started, printed=options["print_emails"])
        console.print(table)
        self._regulars(console)

    @staticmethod
    def _emails(table: Table, *, since, printed: bool) -> None:
        """The e-mails of the run, by template: counted, not printed."""
        sent = (
            NotificationLog.objects.filter(created_at__gte=since)
            .values("template")
            .annotate(n=Count("pk"))
            .order_by("template")
        )
        where = "printed above" if printed else "not printed: --print-emails"
        table.add_row(f"e-mails ({where})", str(sum(row["n"] for row in sent)))
        for row in sent:
            table.add_row(f"  e-mails {row['template']}", str(row["n"]))

    @staticmethod
    def _regulars(console: Console) -> None:
        """Who has a unified history to look at: customers with orders on three channels or more."""
        found = cross_channel_customers()
        if not found:
            return
        console.print("Customers with orders across channels (Customers in the admin):")
        for email, codes in found[:5]:
            console.print(f"  {email}: {', '.join(codes)}")
