from django.apps import AppConfig

from oms.apps import ConnectsReceivers


class FulfillmentConfig(ConnectsReceivers, AppConfig):
    name = "fulfillment"
    verbose_name = "Store work"
    receivers = ("subscribers", "notifications")
