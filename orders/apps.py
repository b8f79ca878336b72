from django.apps import AppConfig

from oms.apps import ConnectsReceivers


class OrdersConfig(ConnectsReceivers, AppConfig):
    name = "orders"
    verbose_name = "Orders"
    receivers = ("subscribers", "notifications")

    def ready(self) -> None:
        from .payments.selectors import payments_for_orders
        from .selectors import order_section_register

        super().ready()
        order_section_register("payments", payments_for_orders, default=[])
