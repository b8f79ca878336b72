from django.apps import AppConfig

from oms.apps import ConnectsReceivers


class FulfillmentConfig(ConnectsReceivers, AppConfig):
    name = "fulfillment"
    verbose_name = "Routing and fulfilment"
    receivers = ("subscribers", "notifications")
