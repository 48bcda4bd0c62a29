from django.urls import URLPattern, URLResolver, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from mlportal import access
from mlportal.api import schema
from mlportal.api.base import PortalViewSet, ReadOnlyPortalViewSet, Timestamp
from mlportal.api.serializers import (
    NewTokenSerializer,
    ObjectChangeSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    WebhookDeliverySerializer,
    WebhookSubscriptionSerializer,
)
from mlportal.filtersets import (
    ObjectChangeFilterSet,
    TokenFilterSet,
    WebhookDeliveryFilterSet,
    WebhookSubscriptionFilterSet,
)
from mlportal.models import ObjectChange, Token, WebhookSubscription
from mlportal.services import redeliver, revoke_token, save_new_token, send_test_event
from mlportal.throttling import LoginRateThrottle


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class ObtainTokenView(APIView):
    """Exchange a username and password for an API token (the key is shown once)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=TokenRequestSerializer, responses={201: NewTokenSerializer})
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token = Token(
            user=data["user"],
            description=data.get("description", ""),
            expires_at=data.get("expires_at"),
            write_enabled=not data["read_only"],
        )
        token.key = save_new_token(token)
        return Response(NewTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class WhoAmIView(APIView):
    """Who the request's credentials are: the user, and the token used (if any). It reads
    nothing beyond the authentication itself, so it also measures the API's fixed cost."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=inline_serializer("WhoAmI", {
        "username": serializers.CharField(),
        "is_superuser": serializers.BooleanField(),
        "token": inline_serializer("WhoAmIToken", {
            "prefix": serializers.CharField(), "read_only": serializers.BooleanField(),
            "expires_at": serializers.DateTimeField(allow_null=True)}, allow_null=True),
    }))
    def get(self, request):
        user, token = request.user, request.auth
        return Response({
            "username": user.get_username(),
            "is_superuser": user.is_superuser,
            "token": {"prefix": token.prefix, "read_only": token.read_only,
                      "expires_at": Timestamp().to_representation(token.expires_at)}
            if isinstance(token, Token) else None,
        })


class TokenViewSet(ReadOnlyPortalViewSet):
    """The signed-in user's own tokens (a superuser's: everyone's). Keys are never shown
    again; new tokens come from POST /api/v1/auth/token/ or the admin."""

    queryset = Token.objects.select_related("user")
    serializer_class = TokenSerializer
    filterset_class = TokenFilterSet

    @extend_schema(request=None, responses=TokenSerializer)
    @action(detail=True, methods=["post"], access_action="change")
    def revoke(self, request, pk=None):
        """Revoke the token from now on (revoking again changes nothing)."""
        token = revoke_token(self.get_object())
        return Response(self.get_serializer(token).data)


class CanViewAudit(permissions.BasePermission):
    message = "The audit trail is for auditors."

    def has_permission(self, request, view):
        return access.can_view_audit(request.user)


class ObjectChangeViewSet(ReadOnlyPortalViewSet):
    """The audit trail: who changed what, when, through which path. Read-only, for auditors."""

    queryset = ObjectChange.objects.select_related("content_type")
    serializer_class = ObjectChangeSerializer
    filterset_class = ObjectChangeFilterSet
    permission_classes = [access.PortalPermission, CanViewAudit]
    # Every method only reads here, so that a write gets 405 rather than a misleading 403.
    access_action = "view"


class APIRootView(APIView):
    """The API's front page: every resource with its URL and what it holds, and where the
    OpenAPI schema and docs are."""

    def get_view_name(self):
        return "mlportal API v1"

    @extend_schema(responses=inline_serializer("APIRoot", {
        "resources": serializers.ListField(child=inline_serializer("APIResource", {
            "name": serializers.CharField(), "url": serializers.URLField(),
            "description": serializers.CharField()})),
        "token": serializers.URLField(), "schema": serializers.URLField(),
        "docs": serializers.URLField(),
    }))
    def get(self, request):
        from mlportal.api import urls

        resources = []
        for name, route in _list_routes(urls.urlpatterns):
            resource = route.strip("/").split("/")[0]
            resources.append({
                "name": resource,
                "url": request.build_absolute_uri(reverse(name)),
                "description": schema.TAGS.get(resource, ""),
            })
        return Response({
            "resources": sorted(resources, key=lambda row: row["name"]),
            "token": request.build_absolute_uri(reverse("api-token")),
            "schema": request.build_absolute_uri(reverse("api-schema")),
            "docs": request.build_absolute_uri(reverse("api-docs")),
        })


def _list_routes(patterns, prefix=""):
    """(url name, route) of every list endpoint without arguments under `patterns`."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _list_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif (isinstance(pattern, URLPattern) and pattern.name
              and pattern.name.endswith("-list")
              and not pattern.pattern.regex.groups):
            yield pattern.name, prefix + str(pattern.pattern).lstrip("^").rstrip("$")


class WebhookSubscriptionViewSet(PortalViewSet):
    """Webhook subscriptions: events of a namespace (and below) POSTed to a URL, signed as
    Standard Webhooks says. Owners of the namespace (and superusers) manage and see them.
    The secret is in the answer to the creation only."""

    queryset = WebhookSubscription.objects.select_related("namespace", "created_by")
    serializer_class = WebhookSubscriptionSerializer
    filterset_class = WebhookSubscriptionFilterSet

    def _delivery(self, delivery):
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"], access_action="change")
    def test(self, request, pk=None):
        """Send a webhook.test event to this subscription now (202: the delivery)."""
        return self._delivery(send_test_event(subscription=self.get_object()))

    @extend_schema(responses=WebhookDeliverySerializer(many=True),
                   filters=True)
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The delivery log of this subscription, the latest first."""
        subscription = self.get_object()
        queryset = WebhookDeliveryFilterSet(
            request.query_params, queryset=subscription.deliveries.select_related("event"),
            request=request).qs
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    def _one_delivery(self, delivery_pk):
        subscription = self.get_object()
        delivery = subscription.deliveries.select_related("event", "subscription").filter(
            pk=delivery_pk).first()
        if delivery is None:
            raise NotFound("This subscription has no such delivery.")
        return delivery

    @extend_schema(responses=WebhookDeliverySerializer)
    @action(detail=True, methods=["get"], url_path=r"deliveries/(?P<delivery_pk>\d+)")
    def delivery(self, request, pk=None, delivery_pk=None):
        """One delivery of this subscription."""
        return Response(WebhookDeliverySerializer(self._one_delivery(delivery_pk)).data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"], access_action="change",
            url_path=r"deliveries/(?P<delivery_pk>\d+)/redeliver")
    def redeliver(self, request, pk=None, delivery_pk=None):
        """Send this delivery's event again, as a new delivery (202: the new delivery)."""
        return self._delivery(redeliver(delivery=self._one_delivery(delivery_pk)))
