from django.db import models


class LocationKind(models.TextChoices):
    WAREHOUSE = "warehouse", "Warehouse"
    STORE = "store", "Store"


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    ADJUSTMENT = "adjustment", "Adjustment"
    COUNT = "count", "Count"
    SNAPSHOT = "snapshot", "Snapshot (full count)"
    RESERVATION = "reservation", "Reservation"
    RELEASE = "release", "Release"
    SHIPMENT = "shipment", "Shipment / hand-over"
    RETURN_RESTOCK = "return_restock", "Return restock"
    TRANSFER_OUT = "transfer_out", "Transfer out"
    TRANSFER_IN = "transfer_in", "Transfer in"


class TransferStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SHIPPED = "shipped", "Shipped"
    IN_TRANSIT = "in_transit", "In transit"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"
