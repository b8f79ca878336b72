from django.core.management.base import BaseCommand

from orders.suggestions import product_affinity_refresh


class Command(BaseCommand):
    help = "Rebuild the co-purchase counts the customer page's suggestions rank by (beat does it hourly)."

    def handle(self, *args, **opts):
        pairs = product_affinity_refresh()
        self.stdout.write(f"{pairs} product pairs bought together.")
