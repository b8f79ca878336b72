"""What the apps' admin pages share: read-only permissions for logs and inlines, and the steps of an
admin action that calls a service (its form, its intermediate page, the service applied to each
selected row with one message per failure and one for the successes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse

from .errors import DomainError, InvalidInput
from .services import check_currency

FormT = TypeVar("FormT", bound=forms.Form)
RowT = TypeVar("RowT")


class NoAddOrChangeMixin:
    """Rows the OMS writes: the admin shows them but never adds or edits one here."""

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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields


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
