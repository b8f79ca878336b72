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


class StockLevelNotFound(NotFound):
    default_code = "stock_level_not_found"
