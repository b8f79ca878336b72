from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returns"
    verbose_name = "Returns and refunds"

    def ready(self) -> None:
        from orders.selectors import order_section_register

        from . import notifications
        from .api.sections import exchange_for_section_output, returns_section_output
        from .selectors import exchanges_for_orders, returns_for_orders

        # Every order representation (GET /orders/{id}, the customer's unified history) shows its
        # returns, and an exchange order the return it was created for.
        order_section_register("returns", returns_for_orders, default=[], output=returns_section_output)
        order_section_register(
            "exchange_for", exchanges_for_orders, default=None, output=exchange_for_section_output
        )
        notifications.connect()  # customer e-mails: return received, refund issued
