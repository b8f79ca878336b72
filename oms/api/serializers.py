from typing import Any

from rest_framework import serializers

from oms.api.validation import StrictBooleanField, StrictCharField
from oms.choices import ChannelKind
from oms.errors import InvalidInput
from oms.models import Channel, WebhookDelivery, WebhookEndpoint, code_validator
from oms.webhooks import (
    SECRET_MIN_LENGTH,
    WEBHOOK_EVENT_CHOICES,
    check_webhook_events,
    check_webhook_url,
)


# A model's fields as the API shows them: every field of ``Meta.fields`` read only (an output is
# never saved), as ``read_only_fields = fields`` said in each. A comment, not a docstring: the
# schema would show a docstring as every output's description.
class ModelOutput(serializers.ModelSerializer):
    def get_extra_kwargs(self) -> dict[str, Any]:
        extra = super().get_extra_kwargs()
        for name in self.Meta.fields:
            extra[name] = {**extra.get(name, {}), "read_only": True}
        return extra


class ChannelInput(serializers.Serializer):
    code = StrictCharField(max_length=64, validators=[code_validator], trim_whitespace=False)
    name = StrictCharField(max_length=200)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    currency = StrictCharField(min_length=3, max_length=3)
    ship_from_stores = StrictBooleanField(default=True)
    active = StrictBooleanField(default=True)


class ChannelOutput(ModelOutput):
    class Meta:
        model = Channel
        fields = ["id", "code", "name", "kind", "currency", "ship_from_stores", "active", "created_at"]


# --- Webhooks -------------------------------------------------------------------------------------


class WebhookEndpointInput(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="An http:// or https:// URL.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(WEBHOOK_EVENT_CHOICES)),
        allow_empty=False,
        min_length=1,
        max_length=len(WEBHOOK_EVENT_CHOICES),
        help_text='Event types to deliver; "*" for every type.',
    )
    secret = serializers.CharField(
        min_length=SECRET_MIN_LENGTH,
        max_length=200,
        required=False,
        trim_whitespace=False,
        write_only=True,
        help_text="Signs every delivery (HMAC-SHA256). Generated when omitted; never shown again.",
    )

    def validate_url(self, value: str) -> str:
        try:
            return check_webhook_url(value)
        except InvalidInput as exc:
            raise serializers.ValidationError(exc.message) from exc

    def validate_events(self, value: list[str]) -> list[str]:
        try:
            return check_webhook_events(value)
        except InvalidInput as exc:
            raise serializers.ValidationError(exc.message) from exc


class WebhookEndpointOutput(ModelOutput):
    events = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "failure_count", "disabled_at", "created_at"]


class WebhookEndpointCreatedOutput(WebhookEndpointOutput):
    """The answer to POST /webhooks: the only time the secret is shown."""

    secret = serializers.SerializerMethodField()

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret"]

    def get_secret(self, obj: WebhookEndpoint) -> str:
        return self.context["secret"]


class WebhookDeliveryOutput(ModelOutput):
    endpoint = serializers.IntegerField(source="endpoint_id")
    succeeded = serializers.BooleanField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "delivery_id",
            "event_id",
            "topic",
            "attempt",
            "succeeded",
            *WebhookDelivery.RESULT_FIELDS,
        ]
