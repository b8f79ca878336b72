"""What the apps' admin pages share: read-only permissions for logs and inlines, and the steps of an
admin action that calls a service (its form, its intermediate page, the service applied to each
selected row with one message per failure and one for the successes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from .actors import Actor
from .display import EMPTY, money_display
from .errors import DomainError, InvalidInput
from .services import check_currency

FormT = TypeVar("FormT", bound=forms.Form)
RowT = TypeVar("RowT")


class NoAddOrChangeMixin:
    """Rows the OMS writes: the admin shows them but never adds or edits one here, so every field
    it shows (``fields`` when declared, computed columns too) is read-only."""

    fields: ClassVar[Any]
    readonly_fields: ClassVar[Any]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields or self.readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyMixin(NoAddOrChangeMixin):
    """... nor deletes one (a log, a ledger)."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IdentityFixedMixin:
    """Other rows refer to an object by ``identity_fields`` (a code, a SKU): they are read-only
    once it exists, on top of the admin's ``readonly_fields``."""

    identity_fields: tuple[str, ...] = ()
    readonly_fields: ClassVar[Sequence[str]]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return (*self.identity_fields, *self.readonly_fields)
        return self.readonly_fields


class ReadOnlyInline(NoAddOrChangeMixin, admin.TabularInline):
    """An object's rows, listed on its page and never edited there: every field is read-only."""

    extra = 0
    can_delete = False
    show_change_link = False
    template = "admin/oms/readonly_tabular.html"  # no per-row caption of internal ids


# --- Who is asking ------------------------------------------------------------------------------


def admin_actor(request: HttpRequest) -> Actor:
    """The Actor of the admin user, computed once per request."""
    actor = getattr(request, "_oms_admin_actor", None)
    if actor is None or actor.user_id != request.user.pk:
        actor = Actor.for_user(request.user)
        request._oms_admin_actor = actor  # type: ignore[attr-defined]  # a per-request cache
    return actor


def admin_location_ids(request: HttpRequest) -> frozenset[int] | None:
    """The locations the admin user may see: None for every location (a manager), otherwise an
    associate's locations (empty for a staff user without a profile)."""
    if request.user.is_superuser:
        return None
    actor = admin_actor(request)
    if actor.is_manager:
        return None
    return actor.location_ids if actor.is_associate else frozenset()


class StaffViewMixin:
    """Staff with a StaffProfile may view the page without Django model permissions.

    A mixin for admin classes and inlines: its ``super()`` calls reach the admin class it is mixed
    with, which mypy cannot see (hence the ``misc`` ignores)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        allowed = super().has_module_permission(request)  # type: ignore[misc]  # the admin class's
        return allowed or admin_actor(request).is_staff

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if super().has_view_permission(request, obj):  # type: ignore[misc]  # the admin class's
            return True
        return admin_actor(request).is_staff and (obj is None or self.may_see(request, obj))

    def may_see(self, request: HttpRequest, obj: Any) -> bool:
        return True


class LocationScopedMixin(StaffViewMixin):
    """Rows belong to a location; associates see only their own locations' rows."""

    location_lookup = "location"  # query path from the model to its Location

    def location_id_of(self, obj: Any) -> int:
        return obj.location_id

    def may_see(self, request: HttpRequest, obj: Any) -> bool:
        allowed = admin_location_ids(request)
        return allowed is None or self.location_id_of(obj) in allowed

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)  # type: ignore[misc]  # the admin class's
        allowed = admin_location_ids(request)
        if allowed is None:
            return qs
        return qs.filter(**{f"{self.location_lookup}__in": allowed})


class StaffReadOnlyInline(ReadOnlyInline):
    """A read-only inline that staff with a StaffProfile may view without model permissions."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_actor(request).is_staff or super().has_view_permission(request, obj)


# --- Columns written for people -----------------------------------------------------------------


def _follow(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name) if obj is not None else None
    return obj


def column(path: str, description: str, *, ordering: str | None = None) -> Callable[[Any, Any], str]:
    """An admin column (or read-only field) showing ``path`` of the row (``"order_line.sku"``)."""

    def show(modeladmin: Any, obj: Any) -> str:
        value = _follow(obj, path)
        return EMPTY if value is None else str(value)

    return admin.display(description=description, ordering=ordering)(show)


def money_column(
    path: str, description: str, *, currency: str = "currency", ordering: str | None = None
) -> Callable[[Any, Any], str]:
    """An admin column showing the amount at ``path`` in the currency at ``currency`` (a path too,
    such as ``"order.currency"``), written the currency's way: ``1.600.000 ₫``."""

    def show(modeladmin: Any, obj: Any) -> str:
        return money_display(_follow(obj, path), str(_follow(obj, currency) or ""))

    return admin.display(description=description, ordering=ordering)(show)


def clean_currency_field(value: str) -> str:
    """A form-field cleaner over the service's currency check (ISO code, upper-cased)."""
    try:
        return check_currency(value)
    except InvalidInput as exc:
        raise forms.ValidationError(exc.message) from exc


def form_or_page(
    modeladmin: admin.ModelAdmin, request: HttpRequest, form_class: type[FormT], template: Any, **context: Any
) -> tuple[FormT, TemplateResponse | None]:
    """An action's form (bound to the POST once its page is submitted, unbound before) and, until
    it is submitted valid, the page that asks for it: ``template`` with the form and ``context``."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        return form, None
    return form, action_page(modeladmin, request, template, form=form, **context)


def action_page(
    modeladmin: admin.ModelAdmin, request: HttpRequest, template: Any, **context: Any
) -> TemplateResponse:
    """An action's intermediate page: ``template`` with the site's context, the model's ``opts``,
    the name of the selection checkbox (``action_checkbox_name``) and ``context``."""
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "opts": modeladmin.opts,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


def apply_each(
    request: HttpRequest,
    rows: Iterable[RowT],
    apply: Callable[[RowT], object],
    done: Callable[[int], str],
    *,
    label: Callable[[Any], str] = lambda row: row.number,
) -> int:
    """Apply a service to each row: a DomainError becomes an error message naming the row (its
    ``label``) and the others go on; then one success message, ``done(count)``, if any succeeded.
    Answers the count."""
    count = 0
    for row in rows:
        try:
            apply(row)
        except DomainError as exc:
            messages.error(request, f"{label(row)}: {exc.message}")
        else:
            count += 1
    if count:
        messages.success(request, done(count))
    return count
