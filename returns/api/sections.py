"""The shapes of the sections the returns app adds to every order's representation (``returns``
and ``exchange_for``, built by ``returns.selectors``), for the API schema of ``OrderOutput``."""

from __future__ import annotations

from rest_framework import serializers

from .serializers import ReturnSummaryOutput


class ExchangeForOutput(serializers.Serializer):
    """For an exchange order: the return it was created for."""

    return_number = serializers.CharField()
    order = serializers.IntegerField(help_text="The returned order's id.")
    order_number = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # "return" is a Python keyword: not a class attribute
        return {"return": serializers.IntegerField(help_text="The return's id."), **super().get_fields()}


def returns_section_output() -> serializers.Field:
    return ReturnSummaryOutput(
        many=True, required=False, help_text="Returns of this order (from any channel)."
    )


def exchange_for_section_output() -> serializers.Field:
    return ExchangeForOutput(
        required=False, allow_null=True, help_text="For an exchange order: the return it was created for."
    )
