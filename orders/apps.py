from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from . import notifications, subscribers
        from .payments.selectors import payments_for_orders
        from .selectors import order_section_register

        subscribers.connect()
        notifications.connect()
        order_section_register("payments", payments_for_orders, default=[])
