from django.contrib.auth import authenticate
from rest_framework import serializers

from mlportal.api.base import PortalModelSerializer, Timestamp
from mlportal.models import ObjectChange, Token


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    expires_at = Timestamp(required=False, allow_null=True)
    read_only = serializers.BooleanField(
        required=False, default=False, help_text="True: the token may only read."
    )

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


class TokenSerializer(PortalModelSerializer):
    """A token as its user sees it: never the key, which is shown once at creation."""

    user = serializers.CharField(source="user.get_username", read_only=True)
    read_only = serializers.BooleanField(read_only=True)
    is_usable = serializers.BooleanField(read_only=True)

    class Meta:
        model = Token
        fields = [
            "id", "user", "prefix", "description", "read_only", "create_at", "expires_at",
            "last_used_at", "revoked_at", "is_usable",
        ]
        read_only_fields = fields


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(source="key", help_text="The key: shown once, store it now.")

    class Meta(TokenSerializer.Meta):
        fields = ["token", *TokenSerializer.Meta.fields]
        read_only_fields = fields


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
