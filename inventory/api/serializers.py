"""One input and one output serializer per endpoint. Inputs only parse; services write."""

from __future__ import annotations

import decimal
import re
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.choices import LocationKind
from inventory.models import Location, Product, time_zone_names
from inventory.selectors import AvailabilityAnswer
from inventory.services.network import LOCATION_FIELDS
from oms.api.serializers import ModelOutput
from oms.api.validation import (
    WRONG_TYPE,
    StrictBooleanField,
    StrictCharField,
    StrictDecimalField,
    StrictIntegerField,
)
from oms.models import code_validator

INT32_MAX = 2_147_483_647
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
sku_validator = RegexValidator(r"^[^\s/]+$", "A SKU has no spaces and no '/'.")
country_validator = RegexValidator(r"^([A-Za-z]{2})?$", "Use a two-letter ISO 3166 country code.")


class CoordinateField(StrictDecimalField):
    """Degrees, rounded to the 6 decimal places stored (about 11 cm); a number or a string."""

    def __init__(self, *, limit: int, **kwargs: Any):
        super().__init__(
            max_digits=9,
            decimal_places=6,
            min_value=Decimal(-limit),
            max_value=Decimal(limit),
            coerce_to_string=False,
            **kwargs,
        )

    def validate_precision(self, value: Decimal) -> Decimal:
        # Out of range is a meaning error (422), refused here before the rounding below: quantizing
        # -1.2e308 to 9 digits raised decimal.InvalidOperation (a 500).
        low, high = self.min_value, self.max_value  # always set (__init__)
        if high is not None and value > high:
            self.fail("max_value", max_value=high)
        if low is not None and value < low:
            self.fail("min_value", min_value=low)
        return super().validate_precision(value.quantize(Decimal("0.000001"), rounding=decimal.ROUND_HALF_UP))


# --- Locations -------------------------------------------------------------------------------------


def _time_zone_schema() -> dict[str, Any]:
    """The IANA names the server knows, as an enum; ``x-enum-varnames`` gives a generated client
    distinct member names (``Etc/GMT+1`` and ``Etc/GMT-1`` would both become ``ETCGMT1``)."""
    names = sorted(time_zone_names())
    var_names = [
        re.sub(r"[^0-9A-Z]+", "_", name.upper().replace("+", "_PLUS_").replace("-", "_MINUS_")).strip("_")
        for name in names
    ]
    if len(set(var_names)) != len(names):  # a tz database with names this mapping merges
        raise ValueError("Time zone member names collide.")
    return {"type": "string", "enum": names, "x-enum-varnames": var_names}


@extend_schema_field(_time_zone_schema())
class TimeZoneField(StrictCharField):
    """An IANA time zone name, exactly (not trimmed: the schema's enum is the whole rule)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, trim_whitespace=False, **kwargs)


class LocationCreateInput(serializers.Serializer):
    code = StrictCharField(max_length=64, validators=[code_validator], trim_whitespace=False)
    name = StrictCharField(max_length=200)
    kind = serializers.ChoiceField(choices=LocationKind.choices)
    latitude = CoordinateField(limit=90)
    longitude = CoordinateField(limit=180)
    address = StrictCharField(max_length=300, required=False, allow_blank=True, default="")
    city = StrictCharField(max_length=120, required=False, allow_blank=True, default="")
    country = StrictCharField(
        max_length=2, required=False, allow_blank=True, default="", validators=[country_validator]
    )
    opening_hours = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    timezone = TimeZoneField(
        required=False, default=None, help_text="IANA name; default: the TIME_ZONE setting."
    )
    ships = StrictBooleanField(default=False)
    pickup = StrictBooleanField(default=False)
    ship_from_store = StrictBooleanField(default=False)
    accepts_returns = StrictBooleanField(default=False)
    daily_capacity = StrictIntegerField(
        min_value=0, max_value=INT32_MAX, allow_null=True, required=False, default=None
    )
    priority = StrictIntegerField(min_value=-1_000_000, max_value=1_000_000, default=0)
    pickup_hold_days = StrictIntegerField(
        min_value=0, max_value=365, allow_null=True, required=False, default=None
    )
    active = StrictBooleanField(default=True)


class LocationUpdateInput(serializers.Serializer):
    """PATCH: any subset of the fields; the code is the location's identity and cannot change."""

    name = StrictCharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=LocationKind.choices, required=False)
    latitude = CoordinateField(limit=90, required=False)
    longitude = CoordinateField(limit=180, required=False)
    address = StrictCharField(max_length=300, required=False, allow_blank=True)
    city = StrictCharField(max_length=120, required=False, allow_blank=True)
    country = StrictCharField(max_length=2, required=False, allow_blank=True, validators=[country_validator])
    opening_hours = StrictCharField(max_length=200, required=False, allow_blank=True)
    timezone = TimeZoneField(required=False, help_text="IANA name, e.g. Asia/Ho_Chi_Minh.")
    ships = StrictBooleanField(required=False)
    pickup = StrictBooleanField(required=False)
    ship_from_store = StrictBooleanField(required=False)
    accepts_returns = StrictBooleanField(required=False)
    daily_capacity = StrictIntegerField(min_value=0, max_value=INT32_MAX, allow_null=True, required=False)
    priority = StrictIntegerField(min_value=-1_000_000, max_value=1_000_000, required=False)
    pickup_hold_days = StrictIntegerField(min_value=0, max_value=365, allow_null=True, required=False)
    active = StrictBooleanField(required=False)


class LocationOutput(ModelOutput):
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, coerce_to_string=False)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, coerce_to_string=False)

    class Meta:
        model = Location
        fields = ["id", "code", *LOCATION_FIELDS, "created_at", "updated_at"]


# --- Products --------------------------------------------------------------------------------------


class ProductCreateInput(serializers.Serializer):
    # not trimmed: "SKU\f" is refused as the pattern says, not stored as "SKU"
    sku = StrictCharField(max_length=64, validators=[sku_validator], trim_whitespace=False)
    name = StrictCharField(max_length=200)
    price = StrictDecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    currency = StrictCharField(min_length=3, max_length=3)
    active = StrictBooleanField(default=True)


class ProductUpdateInput(serializers.Serializer):
    """PATCH: any subset; the SKU is the product's identity and cannot change."""

    name = StrictCharField(max_length=200, required=False)
    price = StrictDecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)
    currency = StrictCharField(min_length=3, max_length=3, required=False)
    active = StrictBooleanField(required=False)


class ProductOutput(ModelOutput):
    class Meta:
        model = Product
        fields = ["id", "sku", "name", "price", "currency", "active", "created_at", "updated_at"]


# --- Inventory rows, adjustments, snapshots --------------------------------------------------------


class StockLevelOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    sku = serializers.CharField(source="product.sku", read_only=True)
    location = serializers.CharField(source="location.code", read_only=True)
    on_hand = serializers.IntegerField(read_only=True)
    reserved = serializers.IntegerField(read_only=True)
    safety_stock = serializers.IntegerField(read_only=True)
    available = serializers.IntegerField(
        read_only=True, help_text="on_hand - reserved - safety_stock, never below 0."
    )
    updated_at = serializers.DateTimeField(read_only=True)


class StockLevelUpdateInput(serializers.Serializer):
    safety_stock = StrictIntegerField(help_text="Units held back from online sale.")


class StockAdjustmentInput(serializers.Serializer):
    """Exactly one of ``delta`` (a change, + or -) and ``on_hand`` (a count)."""

    sku = StrictCharField(max_length=64)
    location = StrictCharField(max_length=64)
    delta = StrictIntegerField(required=False, help_text="Units to add (+) or remove (-).")
    on_hand = StrictIntegerField(required=False, help_text="The counted units (a cycle count).")
    reason = StrictCharField(max_length=300)


class StockAdjustmentOutput(serializers.Serializer):
    movement_id = serializers.IntegerField(source="pk", read_only=True, help_text="The ledger row.")
    kind = serializers.CharField(read_only=True)
    on_hand_delta = serializers.IntegerField(read_only=True)
    expected_on_hand = serializers.IntegerField(read_only=True, allow_null=True)
    reason = serializers.CharField(read_only=True)
    stock = StockLevelOutput(source="stock_level", read_only=True)


class SnapshotItemSchema(serializers.Serializer):
    """Documents one snapshot item; parsing is done by ``SnapshotItemsField`` (fast, any size)."""

    sku = serializers.CharField(max_length=64)
    on_hand = serializers.IntegerField(min_value=0)


@extend_schema_field(SnapshotItemSchema(many=True))
class SnapshotItemsField(serializers.Field):
    """A list of ``{"sku", "on_hand"}`` checked in one tight loop (a snapshot may hold 100,000
    items; a nested serializer per item would cost seconds). Wrong types are shape errors (400);
    ranges, duplicates and unknown SKUs are the service's to refuse (422)."""

    default_error_messages = {
        "not_a_list": 'Expected a list of items but got type "{input_type}".',
        WRONG_TYPE: "Item {index}: {problem}",
        "item_field_required": "Item {index}: '{name}' is required.",
        "unstorable_sku": "Item {index}: a SKU has no NUL or lone surrogate characters.",
    }

    def to_internal_value(self, data: Any) -> list[tuple[str, int]]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        items: list[tuple[str, int]] = []
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                self.fail(WRONG_TYPE, index=index, problem="expected an object {sku, on_hand}.")
            sku = item.get("sku")
            on_hand = item.get("on_hand")
            if sku is None or on_hand is None:
                self.fail("item_field_required", index=index, name="sku" if sku is None else "on_hand")
            if not isinstance(sku, str):
                self.fail(WRONG_TYPE, index=index, problem="sku must be a string.")
            if _UNSTORABLE.search(sku):  # PostgreSQL text takes neither (a 500 when queried)
                self.fail("unstorable_sku", index=index)
            if isinstance(on_hand, float) and on_hand.is_integer() and abs(on_hand) < 2**53:
                on_hand = int(on_hand)
            if isinstance(on_hand, bool) or not isinstance(on_hand, int):
                self.fail(WRONG_TYPE, index=index, problem="on_hand must be an integer.")
            items.append((sku, on_hand))
        return items

    def to_representation(self, value: Any) -> Any:
        return [{"sku": sku, "on_hand": on_hand} for sku, on_hand in value]


class SnapshotInput(serializers.Serializer):
    location = StrictCharField(max_length=64)
    items = SnapshotItemsField(help_text="Every SKU counted at the location; absent SKUs go to 0.")
    reason = StrictCharField(max_length=300, required=False, allow_blank=True, default="")


class SnapshotOutput(serializers.Serializer):
    location = serializers.CharField(read_only=True)
    rows_changed = serializers.IntegerField(read_only=True)
    units_delta = serializers.IntegerField(read_only=True, help_text="Sum of on_hand changes.")
    movements = serializers.IntegerField(read_only=True, help_text="Ledger rows written.")
    reference = serializers.CharField(read_only=True, help_text="The ledger reference of this count.")


# --- Availability ----------------------------------------------------------------------------------


def _query_number(low: int, high: int, **kwargs: Any) -> StrictDecimalField:
    """An optional number of the query string between ``low`` and ``high``, given as a number."""
    return StrictDecimalField(
        max_digits=None,
        decimal_places=None,
        coerce_to_string=False,
        min_value=Decimal(low),
        max_value=Decimal(high),
        required=False,
        **kwargs,
    )


class AvailabilityQuery(serializers.Serializer):
    sku = serializers.ListField(
        child=StrictCharField(max_length=64),
        min_length=1,
        max_length=100,
        help_text="Repeat for several SKUs: ?sku=A&sku=B (at most 100).",
    )
    latitude = _query_number(-90, 90, help_text="The customer's point; with longitude.")
    longitude = _query_number(-180, 180)
    radius_km = _query_number(
        0,
        20_100,
        help_text="Only locations within this distance of the point (needs latitude and longitude).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("latitude" in attrs) != ("longitude" in attrs):
            missing = "longitude" if "latitude" in attrs else "latitude"
            raise serializers.ValidationError(
                {missing: "Give latitude and longitude together."}, code="incomplete_point"
            )
        if "radius_km" in attrs and "latitude" not in attrs:
            raise serializers.ValidationError(
                {"radius_km": "radius_km needs latitude and longitude."}, code="incomplete_point"
            )
        return attrs


# Printable ASCII without spaces: nothing for a CharField to trim or refuse.
_PLAIN_SKU = re.compile(r"[!-~]{1,64}")
_PLAIN_NUMBER = re.compile(r"-?[0-9]{1,5}(\.[0-9]{1,15})?")
_POINT_LIMITS = {"latitude": Decimal(90), "longitude": Decimal(180)}


def availability_query_fast(params: Any) -> dict[str, Any] | None:
    """What ``parse_input(AvailabilityQuery, params)`` returns for an ordinary query (plain ASCII
    SKUs, plain decimal numbers in range), without building the serializer; None for anything else,
    which the serializer then parses and, if wrong, refuses with its usual errors."""
    skus = params.getlist("sku")
    if not 1 <= len(skus) <= 100 or not all(_PLAIN_SKU.fullmatch(sku) for sku in skus):
        return None
    query: dict[str, Any] = {"sku": skus}
    for name in ("latitude", "longitude", "radius_km"):
        if name not in params:
            continue
        text = params[name]  # the last one, as a serializer reads a QueryDict
        if not _PLAIN_NUMBER.fullmatch(text):
            return None
        value = Decimal(text)
        if name == "radius_km":
            if not 0 <= value <= 20_100:
                return None
        elif abs(value) > _POINT_LIMITS[name]:
            return None
        query[name] = value
    if ("latitude" in query) != ("longitude" in query) or ("radius_km" in query and "latitude" not in query):
        return None
    return query


class LocationAvailabilityOutput(serializers.Serializer):
    location = serializers.CharField(read_only=True, help_text="The location's code.")
    name = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=LocationKind.choices, read_only=True)
    available = serializers.IntegerField(read_only=True)
    distance_km = serializers.FloatField(read_only=True, allow_null=True)
    pickup = serializers.BooleanField(read_only=True, help_text="A store where customers collect.")
    in_transit = serializers.IntegerField(
        read_only=True, help_text="Units on the road to this location (transfers): sold only once received."
    )


class IncomingSupplyOutput(serializers.Serializer):
    location = serializers.CharField(read_only=True, help_text="The destination's code.")
    quantity = serializers.IntegerField(read_only=True)
    expected_on = serializers.DateField(read_only=True, allow_null=True)


class SkuAvailabilityOutput(serializers.Serializer):
    sku = serializers.CharField(read_only=True)
    available = serializers.IntegerField(read_only=True, help_text="Available to ship, all locations.")
    locations = LocationAvailabilityOutput(many=True, read_only=True)
    incoming = IncomingSupplyOutput(
        many=True, read_only=True, help_text="Future supply: units in transit to a location, by expected day."
    )


# The answer's schema; ``availability_output`` builds the answer itself (the same JSON, cheaper).
class AvailabilityOutput(serializers.Serializer):
    results = SkuAvailabilityOutput(many=True, read_only=True)
    unknown_skus = serializers.ListField(child=serializers.CharField(), read_only=True)


def availability_output(answer: AvailabilityAnswer) -> dict[str, Any]:
    """``AvailabilityOutput(answer).data`` as plain dicts and lists: the same keys in the same order
    and the same types. A hot read, where the nested serializers were a fifth of the request."""
    return {
        "results": [
            {
                "sku": entry.sku,
                "available": entry.available,
                "locations": [
                    {
                        "location": loc.location,
                        "name": loc.name,
                        "kind": loc.kind,
                        "available": loc.available,
                        "distance_km": loc.distance_km,
                        "pickup": loc.pickup,
                        "in_transit": loc.in_transit,
                    }
                    for loc in entry.locations
                ],
                "incoming": [
                    {"location": inc.location, "quantity": inc.quantity, "expected_on": inc.expected_on}
                    for inc in entry.incoming
                ],
            }
            for entry in answer.results
        ],
        "unknown_skus": answer.unknown_skus,
    }
