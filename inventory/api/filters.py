import django_filters

from inventory.choices import LocationKind
from inventory.models import Location, Product, StockLevel
from oms.api.filters import StrictFilterSet, TrueFalseFilter


class LocationFilter(StrictFilterSet):
    kind = django_filters.ChoiceFilter(choices=LocationKind.choices)
    city = django_filters.CharFilter(lookup_expr="iexact")
    country = django_filters.CharFilter(lookup_expr="iexact")
    active = TrueFalseFilter()
    ships = TrueFalseFilter()
    pickup = TrueFalseFilter()
    ship_from_store = TrueFalseFilter()
    accepts_returns = TrueFalseFilter()

    class Meta:
        model = Location
        fields = [
            "kind",
            "active",
            "ships",
            "pickup",
            "ship_from_store",
            "accepts_returns",
            "city",
            "country",
        ]


class ProductFilter(StrictFilterSet):
    currency = django_filters.CharFilter(lookup_expr="iexact")
    active = TrueFalseFilter()

    class Meta:
        model = Product
        fields = ["sku", "active", "currency"]


class StockLevelFilter(StrictFilterSet):
    sku = django_filters.CharFilter(field_name="product__sku", help_text="A SKU.")
    location = django_filters.CharFilter(field_name="location__code", help_text="A location code.")

    class Meta:
        model = StockLevel
        fields = ["sku", "location"]
