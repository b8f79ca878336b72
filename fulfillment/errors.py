"""Fulfilment's domain errors: the pickup code at hand-over."""

from oms.errors import Conflict, InvalidInput


class PickupCodeRequired(InvalidInput):
    default_code = "pickup_code_required"
    default_message = "Ask the customer for the pickup code from their e-mail."


class PickupCodeMismatch(InvalidInput):
    default_code = "pickup_code_mismatch"
    default_message = "This is not the pickup code of this order."


class PickupCodeLocked(Conflict):
    default_code = "pickup_code_locked"
    default_message = "Too many wrong pickup codes: a manager must send the customer a new code."
