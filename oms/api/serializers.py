from rest_framework import serializers

from oms.choices import ChannelKind
from oms.models import Channel, code_validator


class ChannelInput(serializers.Serializer):
    code = serializers.CharField(max_length=64, validators=[code_validator])
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    currency = serializers.CharField(min_length=3, max_length=3)
    ship_from_stores = serializers.BooleanField(default=True)
    active = serializers.BooleanField(default=True)


class ChannelOutput(serializers.ModelSerializer):
    class Meta:
        model = Channel
        fields = ["id", "code", "name", "kind", "currency", "ship_from_stores", "active", "created_at"]
        read_only_fields = fields
