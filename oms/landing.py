"""The page at ``/``: where a person who opens the server's address (or the admin's "View site")
goes next: the store back office or the API documentation."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse


def landing(request: HttpRequest) -> TemplateResponse:
    site = admin.site
    return TemplateResponse(
        request, "oms/landing.html", {"site_header": site.site_header, "site_title": site.site_title}
    )
