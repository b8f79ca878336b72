"""Writes of the kernel: channels and their API clients."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from .authentication import CLIENT_KEY_PREFIX
from .choices import ChannelKind
from .errors import Conflict, InvalidInput, NotFound
from .models import ApiClient, Channel, generate_key, hash_key
from .money import CURRENCIES


def check_currency(currency: str) -> str:
    """The ISO 4217 code in upper case if the OMS knows it, else 422 ``unknown_currency``."""
    code = (currency or "").upper()
    if code not in CURRENCIES:
        raise InvalidInput(
            f"Unknown currency '{currency}'.", code="unknown_currency", extra={"currency": currency}
        )
    return code


@transaction.atomic
def channel_create(
    *, code: str, name: str, kind: str, currency: str, ship_from_stores: bool = True, active: bool = True
) -> Channel:
    """A new channel of a known kind and currency; 409 ``channel_exists`` for a code already taken."""
    if kind not in ChannelKind.values:
        raise InvalidInput(f"Unknown channel kind '{kind}'.", code="unknown_channel_kind")
    if Channel.objects.filter(code=code).exists():
        raise Conflict(f"Channel '{code}' already exists.", code="channel_exists", extra={"code": code})
    return Channel.objects.create(
        code=code,
        name=name,
        kind=kind,
        currency=check_currency(currency),
        ship_from_stores=ship_from_stores,
        active=active,
    )


@transaction.atomic
def api_client_create(
    *, name: str, channel_code: str, kind: str | None = None, currency: str = "USD"
) -> tuple[ApiClient, str]:
    """Create an API client for a channel and return it with its key (shown once, stored hashed).

    If the channel does not exist and ``kind`` is given, the channel is created with that kind."""
    channel = Channel.objects.filter(code=channel_code).first()
    if channel is None:
        if kind is None:
            raise NotFound(
                f"Channel '{channel_code}' does not exist; pass --kind to create it.", code="unknown_channel"
            )
        channel = channel_create(
            code=channel_code, name=channel_code.replace("-", " ").title(), kind=kind, currency=currency
        )
    elif kind is not None and kind != channel.kind:
        raise Conflict(
            f"Channel '{channel_code}' is of kind '{channel.kind}', not '{kind}'.",
            code="channel_kind_mismatch",
        )
    key = generate_key(CLIENT_KEY_PREFIX)
    try:
        with transaction.atomic():
            client = ApiClient.objects.create(
                name=name, channel=channel, key_prefix=key[:12], key_hash=hash_key(key)
            )
    except IntegrityError as exc:
        raise Conflict(f"An API client named '{name}' already exists.", code="api_client_exists") from exc
    return client, key
