"""Primary keys given from outside (a URL, a payload), as the lookups take them."""

from __future__ import annotations

from typing import Any


def pk_or_none(value: Any) -> int | None:
    """``value`` as an integer primary key, or None when it is not one (then no row matches)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
