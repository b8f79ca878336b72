from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = "Store work"

    def ready(self) -> None:
        from . import notifications, subscribers

        subscribers.connect()
        notifications.connect()
