from django.apps import AppConfig


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "OMS kernel: channels, customers, access"

    def ready(self) -> None:
        from . import subscribers

        subscribers.connect()
