"""A JSON parser with its own body-size limit, answered in the house format.

DRF (3.18) parses JSON from ``request.body``, so Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB
by default) applies to every JSON endpoint, and a bigger body escapes the API's exception handler
as Django's plain-text 400. These parsers read the stream themselves and refuse with
413 ``request_too_large`` in the house format:

* ``SizeLimitedJSONParser``: the ordinary endpoints, at ``DATA_UPLOAD_MAX_MEMORY_SIZE``.
* ``SnapshotJSONParser``: ``POST /inventory/snapshots`` only, at ``OMS_SNAPSHOT_MAX_BODY_BYTES``
  (default 32 MB): a full count of 100,000 SKUs is 4 to 9 MB of JSON. The global setting stays as
  it is for every other endpoint."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.conf import settings
from rest_framework import renderers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.settings import api_settings
from rest_framework.utils import json as drf_json

from oms.errors import RequestTooLarge

DEFAULT_MAX_BYTES = 2_621_440  # Django's default DATA_UPLOAD_MAX_MEMORY_SIZE


class SizeLimitedJSONParser(BaseParser):
    """JSON like DRF's ``JSONParser`` (same strictness), read from the stream up to a limit."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    strict = api_settings.STRICT_JSON
    max_bytes: ClassVar[int | None] = None  # None: settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def limit(self) -> int:
        if self.max_bytes is not None:
            return self.max_bytes
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or DEFAULT_MAX_BYTES

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        limit = self.limit()
        request = parser_context.get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared = 0
        if declared > limit:
            raise RequestTooLarge(
                f"The body has {declared} bytes; this endpoint accepts at most {limit}.",
                extra={"max_bytes": limit},
            )
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(
                f"The body is larger than the {limit} bytes this endpoint accepts.",
                extra={"max_bytes": limit},
            )
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = body.decode(encoding)
            parse_constant = drf_json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:  # "[[[[...]]]]": nested too deep for the decoder
            raise ParseError("JSON parse error - nested too deeply.") from exc


class SnapshotJSONParser(SizeLimitedJSONParser):
    def limit(self) -> int:
        return getattr(settings, "OMS_SNAPSHOT_MAX_BODY_BYTES", 32 * 1024 * 1024)
