"""What the schema says of each operation beyond what the views declare: a one-line summary (every
operation has one: the schema hook warns, and ``spectacular --fail-on-warn`` fails, on one without),
the description of an action that would otherwise repeat its resource's, and a request example for
every write that has a body. The examples use the demo network (``manage.py seed_demo``), so
schemathesis's example phase sends requests that can succeed there."""

from __future__ import annotations

from typing import Any, NamedTuple


class Doc(NamedTuple):
    summary: str
    description: str | None = None
    example: dict[str, Any] | None = None


_FO = "/api/v1/fulfillment-orders/{id}"

OPERATIONS: dict[str, Doc] = {
    "GET /api/v1/availability/": Doc("Available to promise per SKU, to ship and per location"),
    # carts and price lists (orders; docs/carts.md)
    "GET /api/v1/carts/": Doc("List the carts the caller may see (by customer e-mail, status, token)"),
    "POST /api/v1/carts/": Doc(
        "Open a cart, or resume the customer's open cart on this channel",
        "201 with a new cart (its token is the anonymous cart's secret), or 200 with the customer's open "
        "cart from any channel, its lines added, re-priced for this channel. With hold_minutes its units "
        "are held (409 insufficient_stock: nothing opened). 422 unknown_sku, price_unavailable.",
        {"customer": {"email": "an@example.com"}, "lines": [{"sku": "CHI-BLA-M-054", "quantity": 1}]},
    ),
    "GET /api/v1/carts/{id}/": Doc(
        "Get a cart with its timeline",
        "403 cart_not_visible for a channel that has not worked on the cart, does not know its customer "
        "and does not present its token.",
    ),
    "PATCH /api/v1/carts/{id}/": Doc(
        "Change a cart: attach it to a customer, set line quantities, hold its units",
        "Re-priced for the calling channel. 409 cart_checked_out, cart_customer_conflict, "
        "insufficient_stock.",
        {"lines": [{"sku": "CHI-BLA-M-054", "quantity": 2}]},
    ),
    "POST /api/v1/carts/{id}/checkout/": Doc(
        "Check a cart out into an order",
        "Places the order through POST /orders' placement (Idempotency-Key) with the cart's lines re-priced "
        "for this channel; held units become the order's reservations. 409 cart_checked_out, "
        "insufficient_stock.",
        {
            "method": "ship",
            "shipping_address": {"line1": "1 Le Loi", "city": "Ho Chi Minh City", "country": "VN"},
        },
    ),
    "POST /api/v1/carts/{id}/hold/": Doc(
        "Hold a cart's units for a while",
        "Reserves the units (at the store given: a reserve-in-store) until minutes from now; beat releases "
        "them when expired. 409 insufficient_stock.",
        {"minutes": 30, "location": "st-hcm-d1"},
    ),
    "POST /api/v1/carts/{id}/release-hold/": Doc("Release a cart's held units"),
    "GET /api/v1/price-lists/": Doc("List price lists"),
    "POST /api/v1/price-lists/": Doc(
        "Create a price list for a channel (or shared) in a currency",
        "422 currency_mismatch when the channel sells in another currency; 409 price_list_exists.",
        {
            "code": "app-usd",
            "channel": "app",
            "currency": "USD",
            "entries": [{"sku": "CHI-BLA-M-054", "unit_price": "8.50"}],
        },
    ),
    "GET /api/v1/price-lists/{id}/": Doc("Get a price list with its entries"),
    "POST /api/v1/price-lists/{id}/entries/": Doc(
        "Add or replace entries of a price list",
        example={"entries": [{"sku": "CHI-BLA-M-054", "unit_price": "8.50"}]},
    ),
    "GET /api/v1/channels/": Doc("List sales channels"),
    "POST /api/v1/channels/": Doc(
        "Create a sales channel",
        example={"code": "kiosk", "name": "Airport kiosk", "kind": "pos", "currency": "VND"},
    ),
    "GET /api/v1/channels/{code}/": Doc("Get a sales channel"),
    "GET /api/v1/customers/": Doc("List customers (by e-mail, phone or loyalty number)"),
    "GET /api/v1/customers/{id}/": Doc("Get a customer"),
    "POST /api/v1/customers/{id}/erase/": Doc("Erase a customer's personal data"),
    "GET /api/v1/customers/{id}/export/": Doc("Export all of a customer's data"),
    "GET /api/v1/customers/{id}/orders/": Doc("A customer's orders from every channel"),
    "GET /api/v1/customers/{id}/loyalty/": Doc(
        "A customer's loyalty points",
        "Balance, loyalty number, debt and the newest ledger entries, the same on every channel at once. "
        "The account (and its loyalty number) is opened on first use.",
    ),
    "GET /api/v1/customers/{id}/loyalty/entries/": Doc("A customer's points ledger, newest first"),
    "POST /api/v1/customers/{id}/loyalty/burn/": Doc(
        "Pay with loyalty points",
        "Burn points on the caller's channel (staff: the order's channel, or ``channel``), each worth the "
        "channel rule's point_value. With ``order`` (the customer's open order) the value is a tender of "
        "that order: its card pays that much less. 409 insufficient_points when the balance is short "
        "(two channels burning the same points: one wins); 422 loyalty_not_offered without a rule, "
        "points_exceed_due above what the order still owes. A repeated Idempotency-Key answers the "
        "first burn.",
        {"points": 100, "order": "WEB-000123"},
    ),
    "GET /api/v1/loyalty-rules/": Doc("List the channels' loyalty rules"),
    "POST /api/v1/loyalty-rules/": Doc(
        "Set a channel's loyalty rule",
        "Create or replace the rule of ``channel`` (manager): points per currency unit paid, on capture or "
        "completion, the days before earned points expire, and what a point pays for when burnt.",
        {
            "channel": "web",
            "points_per_unit": "0.0001",
            "point_value": "100",
            "trigger": "capture",
            "expiry_days": 365,
        },
    ),
    "GET /api/v1/fulfillment-orders/": Doc("List fulfilment orders"),
    "GET /api/v1/fulfillment-orders/{id}/": Doc("Get a fulfilment order"),
    f"POST {_FO}/accept/": Doc(
        "Accept a fulfilment order",
        "The location takes the work on (pending → accepted). 409 invalid_transition from any other status.",
    ),
    f"POST {_FO}/pick/": Doc(
        "Mark a fulfilment order picked", "The units are off the shelf (accepted → picked)."
    ),
    f"POST {_FO}/pack/": Doc(
        "Mark a fulfilment order packed", "The parcel is ready for the carrier (picked → packed)."
    ),
    f"POST {_FO}/reject/": Doc(
        "Reject a fulfilment order",
        "The location cannot do this work: its units are released and re-sourced from other locations "
        "(this one is excluded for the order); if none can take them the order is backordered.",
        {"reason": "Damaged stock on the shelf"},
    ),
    f"POST {_FO}/ship/": Doc(
        "Ship a fulfilment order",
        "Hand the parcel to the carrier (packed → shipped): the reserved units leave on-hand stock and the "
        "carrier and tracking number are recorded and shown on the order.",
        {"carrier": "GHN", "tracking_number": "GHN123456789"},
    ),
    f"POST {_FO}/ready-for-pickup/": Doc(
        "Mark a pickup order ready for collection",
        "The units wait at the store counter (accepted → ready_for_pickup); the pickup window starts and the "
        "customer is notified.",
    ),
    f"POST {_FO}/picked-up/": Doc(
        "Record that the customer collected a pickup order",
        "The customer collected the units (ready_for_pickup → picked_up): they leave on-hand stock. "
        "The pickup code from the customer's ready e-mail is checked when given (422 "
        "pickup_code_mismatch, 409 pickup_code_locked after too many wrong codes).",
        {"pickup_code": "482913"},
    ),
    "GET /api/v1/inventory/": Doc("List stock rows"),
    "GET /api/v1/inventory/{id}/": Doc("Get a stock row"),
    "PATCH /api/v1/inventory/{id}/": Doc(
        "Set a stock row's safety stock",
        "Set the units held back from online sale at this location (manager). ``safety_stock`` is required.",
        {"safety_stock": 2},
    ),
    "POST /api/v1/inventory/adjustments/": Doc(
        "Adjust or count one SKU at one location",
        example={"sku": "CHI-BLA-M-054", "location": "wh-hcm", "delta": 5, "reason": "Found in receiving"},
    ),
    "POST /api/v1/inventory/snapshots/": Doc(
        "Count a whole location",
        example={
            "location": "st-hcm-d1",
            "items": [{"sku": "CHI-BLA-M-054", "on_hand": 4}],
            "reason": "Year-end count",
        },
    ),
    "GET /api/v1/kpis/": Doc("Operational KPIs for a period"),
    "GET /api/v1/locations/": Doc("List locations"),
    "POST /api/v1/locations/": Doc(
        "Create a location",
        example={
            "code": "st-hcm-d7",
            "name": "Store District 7",
            "kind": "store",
            "latitude": 10.7296,
            "longitude": 106.7219,
            "city": "Ho Chi Minh City",
            "country": "VN",
            "pickup": True,
            "ship_from_store": True,
            "accepts_returns": True,
        },
    ),
    "GET /api/v1/locations/{code}/": Doc("Get a location"),
    "PATCH /api/v1/locations/{code}/": Doc(
        "Change a location", example={"daily_capacity": 40, "opening_hours": "09:00-21:00"}
    ),
    "GET /api/v1/orders/": Doc("List orders"),
    "POST /api/v1/orders/": Doc("Place an order"),
    "GET /api/v1/orders/{id}/": Doc("Get an order with its timeline"),
    "POST /api/v1/orders/{id}/cancel/": Doc(
        "Cancel an order",
        "Cancel every unit not yet shipped or collected: reservations are released and open fulfilment "
        "orders cancelled (owner channel or manager). 409 once everything has shipped.",
        {"reason": "Customer changed their mind"},
    ),
    "POST /api/v1/orders/{id}/holds/": Doc(
        "Put an order on hold",
        "Stop the order from being routed until a manager releases the hold (manager).",
        {"reason": "fraud_review", "note": "Billing and shipping countries differ"},
    ),
    "GET /api/v1/orders/{id}/payments/": Doc("An order's payments and their ledger"),
    "POST /api/v1/orders/{id}/release-hold/": Doc(
        "Release an order's hold",
        "Release one hold (``hold``: its id) or, without it, the order's active hold; routing resumes once "
        "no hold is left (manager).",
        {"hold": 1},
    ),
    "GET /api/v1/products/": Doc("List products (SKUs)"),
    "POST /api/v1/products/": Doc(
        "Create a product",
        example={
            "sku": "HAT-BLA-OS-900",
            "name": "Bucket hat Black",
            "price": "249000.00",
            "currency": "VND",
        },
    ),
    "GET /api/v1/products/{sku}/": Doc("Get a product"),
    "PATCH /api/v1/products/{sku}/": Doc("Change a product", example={"price": "219000.00"}),
    "GET /api/v1/returns/": Doc("List returns"),
    "POST /api/v1/returns/": Doc(
        "Open a return",
        example={
            "order": "1",
            "method": "in_store",
            "location": "st-hcm-d1",
            "lines": [{"order_line": 1, "quantity": 1, "reason": "wrong_size"}],
        },
    ),
    "GET /api/v1/returns/{id}/": Doc("Get a return"),
    "POST /api/v1/returns/{id}/cancel/": Doc("Cancel a return", example={"reason": "Customer kept the item"}),
    "POST /api/v1/returns/{id}/close/": Doc("Close a return"),
    "POST /api/v1/returns/{id}/receive/": Doc(
        "Receive returned units",
        example={"lines": [{"return_line": 1, "quantity": 1, "disposition": "restock"}]},
    ),
    "POST /api/v1/returns/{id}/refund/": Doc(
        "Refund a return", example={"amount": "199000.00", "method": "original_payment"}
    ),
    "GET /api/v1/transfers/": Doc("List transfer orders"),
    "POST /api/v1/transfers/": Doc(
        "Create a transfer order",
        "Move units from a source to a destination location (manager, or an associate of the source): "
        "they are reserved at the source at once, so they cannot be sold meanwhile. 409 insufficient_stock "
        "when the source lacks them.",
        {"source": "wh-hcm", "destination": "st-hcm-d1", "lines": [{"sku": "CHI-BLA-M-054", "quantity": 2}]},
    ),
    "GET /api/v1/transfers/{id}/": Doc("Get a transfer order"),
    "POST /api/v1/transfers/{id}/ship/": Doc(
        "Ship a transfer order",
        "The units leave the source (draft → shipped; ledger transfer_out) and are in transit: future "
        "supply at the destination in GET /availability, not available there (associate of the source).",
        {"carrier": "GHN", "tracking_number": "GHN123456789"},
    ),
    "POST /api/v1/transfers/{id}/receive/": Doc(
        "Receive a transfer order",
        "Units arrive at the destination (ledger transfer_in), all in transit or the lines given "
        "(partially_received). 409 transfer_over_receipt beyond what was shipped; a receipt repeated with "
        "the same idempotency key changes nothing (associate of the destination).",
        {"lines": [{"sku": "CHI-BLA-M-054", "quantity": 2}], "idempotency_key": "dock-2026-12-04-01"},
    ),
    "POST /api/v1/transfers/{id}/cancel/": Doc(
        "Cancel a transfer order",
        "Only a draft (not yet shipped): its units go back on sale at the source. 409 invalid_transition "
        "once shipped.",
        {"reason": "Store restocked locally"},
    ),
    "GET /api/v1/webhooks/": Doc("List webhook endpoints"),
    "POST /api/v1/webhooks/": Doc(
        "Register a webhook endpoint",
        example={"url": "https://hooks.example.com/oms", "events": ["order.created", "order.allocated"]},
    ),
    "GET /api/v1/webhooks/{id}/": Doc("Get a webhook endpoint"),
    "DELETE /api/v1/webhooks/{id}/": Doc("Delete a webhook endpoint"),
    "GET /api/v1/webhooks/{id}/deliveries/": Doc("A webhook endpoint's delivery log"),
    "POST /api/v1/webhooks/{id}/enable/": Doc("Re-enable a webhook endpoint"),
    "PATCH /api/v1/webhooks/{id}/": Doc(
        "Change a webhook endpoint's payload format",
        "Move an endpoint registered before CloudEvents (payload_format legacy) to CloudEvents envelopes, "
        "or back for the deprecation period.",
        {"payload_format": "cloudevents"},
    ),
    "POST /api/v1/webhooks/{id}/rotate-secret/": Doc(
        "Rotate a webhook endpoint's signing secret",
        "Issue a new secret (or set the one given), shown only in this answer. The replaced secret keeps "
        "signing for OMS_WEBHOOK_SECRET_GRACE_HOURS (default 24): meanwhile webhook-signature carries two "
        "signatures, the old secret's and the new one's, so the receiver can switch without refusing a "
        "delivery. The legacy X-OMS-Signature uses the new secret at once.",
        {},
    ),
    f"POST {_FO}/resend-pickup-code/": Doc(
        "Send a new pickup code",
        "A manager issues a new six-digit code for a pickup (the old one stops working, wrong-code locks "
        "are lifted) and e-mails it to the customer again.",
    ),
    "GET /api/v1/order-change-requests/{id}/": Doc("Get an order change request"),
    "POST /api/v1/order-change-requests/{id}/refuse/": Doc(
        "Refuse an order change",
        "A location asked cannot make the change (a reason is required); it is not made.",
        {"reason": "Already packed and handed to the carrier"},
    ),
    "GET /api/v1/staff/": Doc("List staff"),
    "POST /api/v1/staff/": Doc(
        "Create a staff member",
        "A manager creates an associate or a manager; the token is in this answer only. Audited.",
        {"username": "lan", "name": "Lan Tran", "role": "associate", "locations": ["st-hcm-d1"]},
    ),
    "GET /api/v1/staff/{id}/": Doc("Get a staff member, with their audit trail"),
    "PATCH /api/v1/staff/{id}/": Doc(
        "Update a staff member",
        "Name, e-mail, role, locations or active; each change is audited.",
        {"locations": ["st-hcm-d1", "st-hcm-d3"]},
    ),
    "POST /api/v1/staff/{id}/deactivate/": Doc(
        "Deactivate a staff member", "Their token and admin login stop working at once. Audited."
    ),
    "POST /api/v1/staff/{id}/rotate-token/": Doc(
        "Issue a new token for a staff member",
        "The former token stops working at once; the new one is in this answer only. Audited.",
    ),
}
