from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from mlportal import access
from mlportal.api.base import ReadOnlyPortalViewSet, Timestamp
from mlportal.api.serializers import (
    ObjectChangeSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)
from mlportal.filtersets import ObjectChangeFilterSet
from mlportal.models import ObjectChange, Token
from mlportal.services import save_new_token


class LoginRateThrottle(AnonRateThrottle):
    scope = "login"

    def allow_request(self, request, view):
        return super().allow_request(request, view) if request.method == "POST" else True

    def get_cache_key(self, request, view):
        # Per client address, whether or not the client is signed in.
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ObtainTokenView(APIView):
    """Exchange a username and password for an API token (shown once)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=TokenRequestSerializer, responses={201: TokenResponseSerializer})
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token = Token(
            user=data["user"],
            description=data.get("description", ""),
            expires_at=data.get("expires_at"),
            write_enabled=data["write_enabled"],
        )
        key = save_new_token(token)
        return Response(
            {
                "token": key,
                "prefix": token.prefix,
                "expires_at": Timestamp().to_representation(token.expires_at),
                "write_enabled": token.write_enabled,
            },
            status=status.HTTP_201_CREATED,
        )


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
