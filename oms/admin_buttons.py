"""Buttons on an admin detail page that call a service, as the admin's list actions do: only the
buttons valid for the object's status and allowed to the user are shown, each posts to its own
URL (``<id>/do/<button>/``), a button with details (a reason, a carrier, a pickup code) shows
their fields in its form, and a refused step (a DomainError) comes back as an error message on the
page, never a 500.

An admin class lists its ``buttons`` (``DetailButton``) and says who may press them at all
(``may_press``); the service is called with the admin's actor and the form's answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from .actors import Actor
from .errors import DomainError


@dataclass(frozen=True)
class DetailButton:
    """One button: its URL ``name`` and ``label``, whether the object's state allows it
    (``shown(obj)``), the service call (``run(obj, actor, answers)``), the message once done, the
    form that asks its details (None: none), whether it is a destructive one (red) and who may
    press it (``allowed(actor)``, on top of the admin's ``may_press``). ``done`` may also be a
    function of what the service answered (a preview says what it found)."""

    name: str
    label: str
    shown: Callable[[Any], bool]
    run: Callable[[Any, Actor, dict[str, Any]], object]
    done: str | Callable[[Any], str]
    form: type[forms.Form] | None = None
    danger: bool = False
    allowed: Callable[[Actor], bool] = lambda actor: True

    def done_text(self, answer: object) -> str:
        return self.done(answer) if callable(self.done) else self.done


@dataclass(frozen=True)
class ShownButton:
    button: DetailButton
    url: str
    form: forms.Form | None


class DetailButtonsMixin:
    """Adds the buttons to the change page (``admin/oms/change_form_buttons.html``) and their URLs."""

    buttons: ClassVar[Sequence[DetailButton]] = ()
    change_form_template: Any = "admin/oms/change_form_buttons.html"
    # the admin class's (the mixin comes first in its bases)
    admin_site: Any
    opts: Any

    def may_press(self, request: HttpRequest, obj: Any) -> bool:
        """Whether the user may press this object's buttons at all (its own store, a manager ...)."""
        return True

    def button_actor(self, request: HttpRequest) -> Actor:
        return Actor.for_user(request.user)

    def detail_links(self, request: HttpRequest, obj: Any) -> list[tuple[str, str]]:
        """Links shown with the buttons (label, URL): print views and the like."""
        return []

    def buttons_for(self, request: HttpRequest, obj: Any) -> list[ShownButton]:
        if obj is None or not self.may_press(request, obj):
            return []
        actor = self.button_actor(request)
        return [
            ShownButton(button, self._button_url(obj, button), button.form() if button.form else None)
            for button in self.buttons
            if button.shown(obj) and button.allowed(actor)
        ]

    def _url(self, obj: Any, view: str, *args: str) -> str:
        """The URL of the admin's ``view`` (change, button) for ``obj``."""
        name = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{view}"
        return reverse(name, args=[obj.pk, *args])

    def _button_url(self, obj: Any, button: DetailButton) -> str:
        return self._url(obj, "button", button.name)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_button"
        view = self.admin_site.admin_view(self.button_view)
        return [path("<path:object_id>/do/<slug:button>/", view, name=name), *super().get_urls()]  # type: ignore[misc]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        context = {
            **(extra_context or {}),
            "detail_buttons": self.buttons_for(request, obj),
            "detail_links": self.detail_links(request, obj) if obj is not None else [],
        }
        return super().change_view(request, object_id, form_url, context)  # type: ignore[misc]

    def button_view(self, request: HttpRequest, object_id: str, button: str) -> HttpResponse:
        """Press ``button`` (POST): its form checked, its service called; back to the change page
        with a message, or the form again with the refusal."""
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        chosen = next((b for b in self.buttons if b.name == button), None)
        if obj is None or chosen is None or not self.has_view_permission(request, obj):  # type: ignore[attr-defined]
            raise Http404("No such object or button.")
        back = self._url(obj, "change")
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not any(shown.button == chosen for shown in self.buttons_for(request, obj)):
            messages.error(request, f"{obj}: “{chosen.label}” is not possible now.")
            return HttpResponseRedirect(back)
        form = chosen.form(request.POST) if chosen.form else None
        if form is not None and not form.is_valid():
            return self._form_page(request, obj, chosen, form)
        try:
            answer = chosen.run(obj, self.button_actor(request), form.cleaned_data if form else {})
        except DomainError as exc:
            messages.error(request, f"{obj}: {exc.message}")
            if form is not None:
                return self._form_page(request, obj, chosen, form)
        else:
            messages.success(request, f"{obj}: {chosen.done_text(answer)}")
        return HttpResponseRedirect(back)

    def _form_page(
        self, request: HttpRequest, obj: Any, button: DetailButton, form: forms.Form
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/oms/button_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": obj,
                "title": f"{button.label}: {obj}",
                "shown": ShownButton(button, self._button_url(obj, button), form),
            },
        )
