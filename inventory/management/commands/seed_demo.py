from django.core.management.base import BaseCommand

from inventory.demo import demo_network_seed


class Command(BaseCommand):
    help = "Load the demo network (2 warehouses, 8 stores, 200 SKUs, stock, channels). Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=200)

    def handle(self, *args, **opts):
        summary = demo_network_seed(products=opts["products"])
        self.stdout.write(
            f"Demo network: {summary.channels} channels, {summary.locations} locations, {summary.products} "
            f"products, {summary.stock_rows} stock rows, {summary.units} units on hand."
        )
