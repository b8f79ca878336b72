"""The shapes of the sections the returns app adds to every order's representation (``returns``
and ``exchange_for``, built by ``returns.selectors``), for the API schema of ``OrderOutput``."""

from __future__ import annotations

from rest_framework import serializers

from oms.money import MONEY

from .serializers import ReturnLineOutput, ReturnOutput


class ReturnLineSummary(ReturnLineOutput):
    note = value = None  # type: ignore[assignment]  # None drops the field (DRF)


class ExchangeOrderRef(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class OrderReturnSummary(ReturnOutput):
    """One return of the order, from any channel; the whole return is at ``GET /returns/{id}``."""

    # None drops a field of ReturnOutput (DRF); the stubs know only fields
    order = order_number = window_overridden = currency = exchange_credit = created_by = None  # type: ignore[assignment]
    updated_at = received_at = refunded_at = closed_at = cancelled_at = receipts = refunds = None  # type: ignore[assignment]
    refunded = serializers.DecimalField(**MONEY, help_text="Sum of this return's refunds.")  # type: ignore[assignment]
    exchange_order = ExchangeOrderRef(allow_null=True)  # type: ignore[assignment]
    lines = ReturnLineSummary(many=True)


class ExchangeForOutput(serializers.Serializer):
    """For an exchange order: the return it was created for."""

    return_number = serializers.CharField()
    order = serializers.IntegerField(help_text="The returned order's id.")
    order_number = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # "return" is a Python keyword: not a class attribute
        return {"return": serializers.IntegerField(help_text="The return's id."), **super().get_fields()}


def returns_section_output() -> serializers.Field:
    return OrderReturnSummary(
        many=True, required=False, help_text="Returns of this order (from any channel)."
    )


def exchange_for_section_output() -> serializers.Field:
    return ExchangeForOutput(
        required=False, allow_null=True, help_text="For an exchange order: the return it was created for."
    )
