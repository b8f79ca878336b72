"""The admin site store staff log in to: its title, and the apps and pages named in the retailer's
words rather than the code's (no "OMS kernel", no "Idempotency records").

Installed as the default site by ``oms.apps.OmsAdminConfig`` (in ``INSTALLED_APPS`` instead of
``django.contrib.admin``), so every ``@admin.register`` lands here. Plumbing pages (the outbox,
idempotency records) are left off the index; their URLs still work for whoever debugs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

# The index, in the order of the day's work: app label -> (the group's name, {model name: the
# page's name, or None: not on the index}). Apps and models not listed keep Django's names.
APPS: dict[str, tuple[str, dict[str, str | None]]] = {
    "fulfillment": (
        "Store work",
        {
            "fulfillmentorder": "Fulfilment orders (the work queue)",
            "routingexclusion": "Locations that refused an order",
        },
    ),
    "orders": ("Orders", {"idempotencyrecord": None}),
    "returns": ("Returns and refunds", {"returnline": "Returned items", "receipt": "Return receipts"}),
    "inventory": (
        "Stores, warehouses and stock",
        {"stocklevel": "Stock by location", "stockmovement": "Stock ledger (every change)"},
    ),
    "oms": (
        "Customers, channels and staff",
        {
            "apiclient": "Channel API keys",
            "staffprofile": "Staff",
            "notificationlog": "E-mails to customers",
            "webhookendpoint": "Webhooks",
            "webhookdelivery": "Webhook deliveries",
            "outboxevent": None,
        },
    ),
    "auth": ("Logins", {"user": "Login accounts", "group": "Login groups"}),
}


class OmsAdminSite(admin.AdminSite):
    site_header = "Store back office"
    site_title = "Store back office"
    index_title = "Orders, stores and stock"
    site_url = "/"  # "View site": the landing page with the links to the admin and the API docs

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = []
        for app in super().get_app_list(request, app_label):
            name, pages = APPS.get(app["app_label"], (app["name"], {}))
            models = []
            for model in app["models"]:
                key = model["object_name"].lower()
                if key in pages and pages[key] is None:
                    continue
                model["name"] = pages.get(key) or model["name"]
                models.append(model)
            if models:
                apps.append({**app, "name": name, "models": models})
        rank = {label: i for i, label in enumerate(APPS)}
        return sorted(apps, key=lambda app: rank.get(app["app_label"], len(rank)))
