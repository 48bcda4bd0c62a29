from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from rest_framework import exceptions, serializers

from mlportal import services, throttling
from mlportal.access import validate_namespace_path
from mlportal.api.base import PortalModelSerializer, Timestamp
from mlportal.events import EVENT_TYPES
from mlportal.models import (
    ObjectChange,
    Token,
    WebhookDelivery,
    WebhookSubscription,
)
from mlportal.secrets import MASK
from mlportal.webhooks import url_error


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
            wait = throttling.refused_wait(self.context["request"])
            if wait is not None:
                raise exceptions.Throttled(wait)
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


class WebhookSubscriptionSerializer(PortalModelSerializer):
    """A webhook subscription. Its secret is shown once, in the answer to its creation;
    afterwards it reads as ********."""

    namespace = serializers.CharField(
        source="namespace.path", max_length=255, required=False, allow_null=True,
        validators=[validate_namespace_path],
        help_text="Events of this namespace and below; null: every namespace (superusers).")
    secret = serializers.SerializerMethodField(
        help_text="The signing secret (whsec_...): in clear only in the answer to the creation.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), required=False,
        help_text="Event types to send; empty: all of them.")
    created_by = serializers.CharField(source="created_by.username", read_only=True,
                                       default=None)

    class Meta:
        model = WebhookSubscription
        fields = ["id", "namespace", "url", "secret", "event_types", "description", "active",
                  "paused_at", "paused_reason", "consecutive_failures", "created_by",
                  "create_at", "update_at"]
        read_only_fields = ["paused_at", "paused_reason", "consecutive_failures"]

    def get_secret(self, subscription) -> str:
        return getattr(subscription, "new_secret", None) or MASK

    def validate_url(self, value):
        error = url_error(value)
        if error:
            raise serializers.ValidationError(error)
        return value

    def _save(self, instance, validated_data):
        request = self.context.get("request")
        user = request.user if request is not None else None
        if "namespace" in validated_data:
            path = (validated_data.pop("namespace") or {}).get("path") or ""
        else:
            path = None if instance is not None else ""
        if path == "" and user is not None and not user.is_superuser:
            raise PermissionDenied("Only superusers subscribe to every namespace: name one.")
        return services.save_subscription(instance=instance, namespace=path, user=user,
                                          **validated_data)

    def create(self, validated_data):
        return self._save(None, validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One event sent to a subscription: how it went (never the secret nor the signature)."""

    subscription = serializers.PrimaryKeyRelatedField(read_only=True)
    event = serializers.UUIDField(source="event_id", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    create_at = Timestamp(read_only=True)
    first_attempt_at = Timestamp(read_only=True, allow_null=True)
    last_attempt_at = Timestamp(read_only=True, allow_null=True)
    next_attempt_at = Timestamp(read_only=True, allow_null=True)
    finished_at = Timestamp(read_only=True, allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "subscription", "event", "event_type", "status", "attempts",
                  "response_code", "response_body", "error", "create_at", "first_attempt_at",
                  "last_attempt_at", "next_attempt_at", "finished_at"]
        read_only_fields = fields
