from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = "Routing and fulfilment"

    def ready(self) -> None:
        from . import notifications, subscribers

        subscribers.connect()
        notifications.connect()
