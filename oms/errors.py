"""The one error hierarchy. Services raise these; the API exception handler renders them as
``{"code": ..., "message": ..., "extra": {...}}`` with the class's HTTP status."""

from typing import Any, ClassVar


class DomainError(Exception):
    status_code: ClassVar[int] = 422
    default_code: ClassVar[str] = "invalid"
    default_message: ClassVar[str] = "The request cannot be processed."

    def __init__(
        self, message: str | None = None, *, code: str | None = None, extra: dict[str, Any] | None = None
    ):
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.extra = extra or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "extra": self.extra}


class MalformedInput(DomainError):
    status_code = 400
    default_code = "malformed_request"
    default_message = "The request body could not be parsed."


class RequestTooLarge(DomainError):
    status_code = 413
    default_code = "request_too_large"
    default_message = "The request body is too large."


class InvalidInput(DomainError):
    """Well-formed input whose meaning is wrong (unknown SKU, negative price ...): 422."""

    status_code = 422
    default_code = "invalid_input"
    default_message = "The request is not valid."


class NotFound(DomainError):
    status_code = 404
    default_code = "not_found"
    default_message = "Not found."


class PermissionDenied(DomainError):
    status_code = 403
    default_code = "permission_denied"
    default_message = "You may not do this."


class Conflict(DomainError):
    status_code = 409
    default_code = "conflict"
    default_message = "The request conflicts with the current state."


class InvalidTransition(Conflict):
    default_code = "invalid_transition"
    default_message = "This change of status is not allowed."

    def __init__(self, *, entity: str, current: str, target: str, message: str | None = None):
        super().__init__(
            message or f"A {entity} in status '{current}' cannot move to '{target}'.",
            extra={"entity": entity, "current": current, "target": target},
        )


class CustomerNotFound(NotFound):
    default_code = "customer_not_found"
    default_message = "Customer not found."
