"""DRF's JSON renderer, safe for any string a request can carry.

JSON text may hold a lone surrogate escape (``"\\udc00"``); Python decodes it into a ``str`` that
UTF-8 cannot encode, so an error message echoing it (``'"\\udc00" is not a valid choice.'``) made
the renderer raise, a 500. Such an answer is rendered with ASCII escapes instead (still JSON)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return json.dumps(
                data, cls=self.encoder_class, ensure_ascii=True, allow_nan=not self.strict
            ).encode()
