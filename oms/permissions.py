"""DRF permission classes by role. Object scoping (which channel, which location) is done in
selectors and services with the Actor, so a forbidden object is simply not found (404)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .authentication import actor_from_request


class IsManager(BasePermission):
    message = "Only a manager may do this."

    def has_permission(self, request, view) -> bool:
        return actor_from_request(request).is_manager


class IsStaff(BasePermission):
    message = "Only store staff and managers may do this."

    def has_permission(self, request, view) -> bool:
        return actor_from_request(request).is_staff


class IsManagerOrReadOnly(BasePermission):
    """Anyone authenticated may read; only a manager changes the network."""

    message = "Only a manager may change this."

    def has_permission(self, request, view) -> bool:
        actor = actor_from_request(request)
        if request.method in SAFE_METHODS:
            return actor.is_staff or actor.is_channel
        return actor.is_manager


class IsStaffOrChannel(BasePermission):
    message = "Authenticate as a channel API client or as staff."

    def has_permission(self, request, view) -> bool:
        actor = actor_from_request(request)
        return actor.is_staff or actor.is_channel


class IsStaffOrInPersonChannel(BasePermission):
    """Store staff, managers, and in-person channel keys (POS, call centre), which then act for the
    associate they name (``oms.staff.staff_actor_for_associate``)."""

    message = "Only store staff, managers and in-person channels (POS) may do this."

    def has_permission(self, request, view) -> bool:
        actor = actor_from_request(request)
        return actor.is_staff or actor.is_in_person_channel
