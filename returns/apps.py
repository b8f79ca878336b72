from django.apps import AppConfig

from oms.apps import ConnectsReceivers


class ReturnsConfig(ConnectsReceivers, AppConfig):
    name = "returns"
    verbose_name = "Returns and refunds"
    receivers = ("notifications",)  # customer e-mails: return received, refund issued

    def ready(self) -> None:
        from fulfillment.selectors import store_day_section_register
        from orders.selectors import order_section_register

        from .api.sections import exchange_for_section_output, returns_section_output
        from .selectors import exchanges_for_orders, returns_for_orders, returns_to_receive_section

        # Every order representation (GET /orders/{id}, the customer's unified history) shows its
        # returns, and an exchange order the return it was created for.
        order_section_register("returns", returns_for_orders, default=[], output=returns_section_output)
        order_section_register(
            "exchange_for", exchanges_for_orders, default=None, output=exchange_for_section_output
        )
        store_day_section_register(returns_to_receive_section)  # the admin start page
        super().ready()
