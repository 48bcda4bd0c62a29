from django.contrib.auth import authenticate
from rest_framework import serializers

from mlportal.api.base import Timestamp
from mlportal.models import ObjectChange


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    expires_at = Timestamp(required=False, allow_null=True)
    write_enabled = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs):
        user = authenticate(
            self.context["request"], username=attrs["username"], password=attrs["password"]
        )
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with these credentials."]},
                code="authorization",
            )
        attrs["user"] = user
        return attrs


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The key: shown once, store it now.")
    prefix = serializers.CharField()
    expires_at = Timestamp(allow_null=True)
    write_enabled = serializers.BooleanField()


class ObjectChangeSerializer(serializers.ModelSerializer):
    """One recorded change. `before` and `after` are the object's audit documents, with
    secrets masked when they were recorded."""

    time = Timestamp()
    user = serializers.CharField(source="user_name")
    object_type = serializers.CharField()
    before = serializers.JSONField(source="prechange_data")
    after = serializers.JSONField(source="postchange_data")

    class Meta:
        model = ObjectChange
        fields = ["id", "time", "user", "principal", "source", "request_id", "action",
                  "object_type", "object_id", "object_repr", "namespace", "before", "after"]
        read_only_fields = fields
