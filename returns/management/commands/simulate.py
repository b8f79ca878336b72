"""python manage.py simulate --orders N --days D: drive orders from every channel, associate work,
rejections, pickups, expiries and returns through the services, with a progress bar and a summary."""

from __future__ import annotations

from typing import IO, cast

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oms.errors import DomainError
from orders.models import Order
from returns.simulation import Simulation


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
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
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
        console.print(table)
