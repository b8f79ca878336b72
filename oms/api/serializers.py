from typing import Any

from rest_framework import serializers

from oms.api.validation import StrictBooleanField, StrictCharField
from oms.choices import ChannelKind, WebhookPayloadFormat
from oms.errors import InvalidInput
from oms.models import Channel, WebhookDelivery, WebhookEndpoint, code_validator
from oms.webhook_messages import webhook_secret_standard_form
from oms.webhooks import (
    SECRET_MIN_LENGTH,
    check_webhook_events,
    check_webhook_url,
    webhook_event_choices,
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


class WebhookEventsField(serializers.ListField):
    """A list of event types from the registry (``oms.event_types``) as it is when the serializer
    is made, so that types an app registers at start-up are choices too."""

    def __init__(self, **kwargs: Any) -> None:
        choices = list(webhook_event_choices())
        kwargs.update(child=serializers.ChoiceField(choices=choices), max_length=len(choices))
        super().__init__(**kwargs)


def _secret_field(help_text: str) -> serializers.CharField:
    return serializers.CharField(
        min_length=SECRET_MIN_LENGTH,
        max_length=200,
        required=False,
        trim_whitespace=False,
        write_only=True,
        help_text=help_text,
    )


_FORMAT_HELP = (
    "cloudevents: CloudEvents 1.0 envelopes (application/cloudevents+json, the default); legacy: the "
    'deprecated {"id", "topic", "created_at", "data"} document of endpoints registered before.'
)


class WebhookEndpointInput(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="An http:// or https:// URL.")
    events = WebhookEventsField(
        allow_empty=False, min_length=1, help_text='Event types to deliver; "*" for every type.'
    )
    secret = _secret_field(
        "Signs every delivery (Standard Webhooks, HMAC-SHA256): a whsec_<base64> secret, or any other "
        "string of 16 or more characters (signing with its UTF-8 bytes). Generated (whsec_) when "
        "omitted; never shown again."
    )
    payload_format = serializers.ChoiceField(
        choices=WebhookPayloadFormat.choices, default=WebhookPayloadFormat.CLOUDEVENTS, help_text=_FORMAT_HELP
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


class WebhookEndpointUpdateInput(serializers.Serializer):
    payload_format = serializers.ChoiceField(choices=WebhookPayloadFormat.choices, help_text=_FORMAT_HELP)


class WebhookSecretRotateInput(serializers.Serializer):
    secret = _secret_field("The new secret; generated (whsec_) when omitted.")


class WebhookEndpointOutput(ModelOutput):
    events = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = WebhookEndpoint
        fields = ["id", *WebhookEndpoint.SHOWN_FIELDS]


class WebhookEndpointCreatedOutput(WebhookEndpointOutput):
    """The answer to POST /webhooks and to a rotation: the only time the secret is shown."""

    secret = serializers.SerializerMethodField(help_text="The signing secret, as given or generated.")
    standard_webhooks_secret = serializers.SerializerMethodField(
        help_text="The same secret in the whsec_<base64> form that Standard Webhooks libraries take."
    )

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret", "standard_webhooks_secret"]

    def get_secret(self, obj: WebhookEndpoint) -> str:
        return self.context["secret"]

    def get_standard_webhooks_secret(self, obj: WebhookEndpoint) -> str:
        return webhook_secret_standard_form(self.context["secret"])


class WebhookDeliveryOutput(ModelOutput):
    endpoint = serializers.IntegerField(source="endpoint_id")
    succeeded = serializers.BooleanField()
    webhook_id = serializers.CharField(
        help_text="The webhook-id header (evt_<event_id>): the CloudEvents id."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "delivery_id",
            "event_id",
            "webhook_id",
            "topic",
            "attempt",
            "succeeded",
            *WebhookDelivery.RESULT_FIELDS,
        ]
