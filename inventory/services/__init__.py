"""Writes to stock and to the network, by responsibility: ``stock`` (reserve, release, consume:
composed into a caller's transaction), ``adjustments`` (adjust, count, safety stock: top-level
actions for the API, admin and returns), ``network`` (locations and products). The one-statement
PostgreSQL writes they use are in ``inventory.writes``; staff are the kernel's (``oms.staff``)."""

from inventory.writes import ReserveStatement, StockHold, StockLine, stock_reserve_statement

from . import network
from .adjustments import (
    check_quantity,
    stock_adjust,
    stock_adjustment_apply,
    stock_count,
    stock_safety_set,
)
from .network import *  # noqa: F403 (locations and products: network.__all__)
from .stock import stock_consume, stock_release, stock_reserve

__all__ = [
    "ReserveStatement",
    "StockHold",
    "StockLine",
    "check_quantity",
    "stock_adjust",
    "stock_adjustment_apply",
    "stock_consume",
    "stock_count",
    "stock_release",
    "stock_reserve",
    "stock_reserve_statement",
    "stock_safety_set",
]
__all__ += network.__all__
