import django_filters

from oms.api.filters import IdFilter, StrictFilterSet
from orders.choices import FulfillmentMethod, OrderStatus
from orders.models import Order


class OrderFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    channel = django_filters.CharFilter(field_name="channel__code")
    customer_email = django_filters.CharFilter(method="filter_customer_email")
    customer = IdFilter(field_name="customer_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    number = django_filters.CharFilter(field_name="number")
    external_id = django_filters.CharFilter(field_name="external_id")
    method = django_filters.ChoiceFilter(choices=FulfillmentMethod.choices)
    pickup_location = django_filters.CharFilter(field_name="pickup_location__code")

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_customer_email(self, queryset, name, value):
        return queryset.filter(customer__email_normalized=value.strip().lower())
