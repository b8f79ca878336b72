import django_filters

from oms.api.filters import IdFilter, StrictFilterSet
from returns.choices import ReturnMethod, ReturnReason, ReturnStatus
from returns.models import Return


class ReturnFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ReturnStatus.choices)
    order = IdFilter(field_name="order_id")
    customer = IdFilter(field_name="order__customer_id")
    location = django_filters.CharFilter(field_name="location__code")
    channel = django_filters.CharFilter(field_name="channel__code")
    method = django_filters.ChoiceFilter(choices=ReturnMethod.choices)
    reason = django_filters.ChoiceFilter(choices=ReturnReason.choices, method="filter_reason")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Return
        fields: list[str] = []

    def filter_reason(self, queryset, name, value):
        return queryset.filter(lines__reason=value).distinct()
