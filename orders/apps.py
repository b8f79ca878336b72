from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders and customers"

    def ready(self) -> None:
        from . import notifications, subscribers

        subscribers.connect()
        notifications.connect()
