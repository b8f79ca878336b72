"""Changing an order after placement (``order_change``): lines added or removed, quantities
changed, units cancelled, the address, method or pickup store changed, each one an
``OrderChange`` row; previews; the units a change may take back are asked of fulfilment
(``hooks``)."""

from .apply import MAX_OPERATIONS, order_change, order_change_check_actor, order_change_in_transaction
from .hooks import (
    QUEUED,
    STARTED,
    UNROUTED,
    ChangeApplied,
    WorkStateColumn,
    change_apply_register,
    change_work_register,
)
from .inputs import ChangeInput, ChangeOperation, ChangeRenderer, ChangeResult
from .requests import change_request_confirm, change_request_refuse
from .work import line_value

__all__ = [
    "MAX_OPERATIONS",
    "QUEUED",
    "STARTED",
    "UNROUTED",
    "ChangeApplied",
    "ChangeInput",
    "ChangeOperation",
    "ChangeRenderer",
    "ChangeResult",
    "WorkStateColumn",
    "change_apply_register",
    "change_request_confirm",
    "change_request_refuse",
    "change_work_register",
    "line_value",
    "order_change",
    "order_change_check_actor",
    "order_change_in_transaction",
]
