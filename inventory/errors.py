from __future__ import annotations

from typing import Any

from oms.errors import Conflict, InvalidInput, NotFound


class InsufficientStock(Conflict):
    default_code = "insufficient_stock"
    default_message = "Not enough stock."


class StockWouldGoNegative(Conflict):
    default_code = "stock_would_go_negative"
    default_message = "The change would leave less on hand than is reserved, or below zero."


class CountBelowReserved(Conflict):
    default_code = "count_below_reserved"
    default_message = "The counted quantity is below the units already reserved."


class UnknownSku(InvalidInput):
    default_code = "unknown_sku"
    default_message = "Unknown SKU."


class UnknownLocation(InvalidInput):
    default_code = "unknown_location"
    default_message = "Unknown location."


class TransferNotFound(NotFound):
    default_code = "transfer_not_found"
    default_message = "Transfer order not found."


class TransferOverReceipt(Conflict):
    default_code = "transfer_over_receipt"
    default_message = "More units received than are in transit."


class StockLevelNotFound(NotFound):
    default_code = "stock_level_not_found"


SNAPSHOT_MAX_LISTED = 100  # offending SKUs listed in a snapshot error's ``extra`` (the count is always given)


class SnapshotBelowReserved(Conflict):
    default_code = "snapshot_below_reserved"
    default_message = "The snapshot would leave fewer units on hand than are reserved."


def snapshot_unknown_skus(skus: list[str], count: int) -> UnknownSku:
    """The refusal of a snapshot naming SKUs that do not exist (``skus`` sorted, ``count`` in all)."""
    return UnknownSku(
        f"{count} SKU(s) of the snapshot do not exist: {', '.join(skus[:5])}.",
        extra={"skus": skus[:SNAPSHOT_MAX_LISTED], "count": count},
    )


def snapshot_below_reserved(rows: list[dict[str, Any]], count: int) -> SnapshotBelowReserved:
    """The refusal of a snapshot that would leave rows below their reserved units."""
    return SnapshotBelowReserved(
        f"{count} SKU(s) would have fewer units on hand than are reserved; count them again or "
        f"release the reservations first.",
        extra={"items": rows[:SNAPSHOT_MAX_LISTED], "count": count},
    )
