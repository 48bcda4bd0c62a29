"""What operators and load balancers talk to: request ids, liveness, readiness, metrics.

- `RequestIdMiddleware` (first in MIDDLEWARE) gives every request an id, `request.id`, sent
  back in `X-Request-ID`, written in gunicorn's access log and kept in the audit trail. An
  id that the client (a proxy) sends in `X-Request-ID` is taken only when
  `MLPORTAL_TRUST_REQUEST_ID` is on and it is a UUID, so that a client cannot make its
  changes look like part of another request.
- `HealthMiddleware` answers `/healthz` (liveness: the process serves) and `/readyz`
  (readiness: the database answers and, with ARTIFACT_STORAGE=s3, the bucket) before any
  other middleware: no session, no authentication, nothing in the answer but "ok" or
  "unavailable" per check.
- `MetricsMiddleware` counts requests by view and status and times them, with
  django-prometheus's metric names; `metrics` serves them at `/metrics` to the networks in
  `MLPORTAL_METRICS_ALLOWED_NETWORKS` (default: loopback only); anyone else gets a 404.
"""

import ipaddress
import logging
import uuid

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections
from django.http import Http404, JsonResponse
from django_prometheus.middleware import Metrics
from django_prometheus.utils import Time, TimeSince

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"


def _trusted_request_id(request):
    if not getattr(settings, "MLPORTAL_TRUST_REQUEST_ID", False):
        return None
    try:
        return uuid.UUID(request.headers.get(REQUEST_ID_HEADER, ""))
    except ValueError:
        return None


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = _trusted_request_id(request) or uuid.uuid4()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = str(request.id)
        return response


def database_ready():
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:  # noqa: BLE001 (any failure means "not ready"; logged, not shown)
        logger.warning("Readiness: the database does not answer.", exc_info=True)
        return False


def artifact_store_ready():
    from django.core.files.storage import storages

    storage = storages["artifacts"]
    bucket = getattr(storage, "bucket_name", None)
    if not bucket:
        return True
    try:
        storage.connection.meta.client.head_bucket(Bucket=bucket)
        return True
    except Exception:  # noqa: BLE001 (as above)
        logger.warning("Readiness: the artifact bucket does not answer.", exc_info=True)
        return False


def readiness():
    checks = {"database": database_ready()}
    if settings.ARTIFACT_STORAGE == "s3":
        checks["artifact_store"] = artifact_store_ready()
    return all(checks.values()), {
        name: "ok" if ready else "unavailable" for name, ready in checks.items()}


class HealthMiddleware:
    """`/healthz` and `/readyz`, answered before sessions, authentication and the rest."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return self._answer(request, 200, {"status": "ok"})
        if request.path == "/readyz":
            ready, checks = readiness()
            return self._answer(request, 200 if ready else 503,
                                {"status": "ok" if ready else "unavailable", "checks": checks})
        return self.get_response(request)

    @staticmethod
    def _answer(request, status, body):
        if request.method not in ("GET", "HEAD"):
            return JsonResponse({"detail": "Method not allowed."}, status=405,
                                headers={"Allow": "GET, HEAD"})
        return JsonResponse(body, status=status, headers={"Cache-Control": "no-store"})


class MetricsMiddleware:
    """The three request metrics the operators' guide names (requests by view, responses by
    status and view, latency by view), recorded once per request.

    django-prometheus's own pair of middlewares records a dozen metrics per request (body
    sizes, charsets, transports, latency twice...), which cost more than a version's whole
    document: this keeps its metric names and drops the rest."""

    METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
                         "CONNECT"})

    def __init__(self, get_response):
        if not settings.MLPORTAL_METRICS:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.metrics = Metrics.get_instance()

    def __call__(self, request):
        started = Time()
        response = self.get_response(request)
        method = self._method(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else None) or "<unnamed view>"
        self.metrics.responses_by_status_view_method.labels(
            status=str(response.status_code), view=view, method=method).inc()
        self.metrics.requests_latency_by_view_method.labels(
            view=view, method=method).observe(TimeSince(started))
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        self.metrics.requests_by_view_transport_method.labels(
            view=request.resolver_match.view_name or "<unnamed view>",
            transport="https" if request.is_secure() else "http",
            method=self._method(request)).inc()

    def _method(self, request):
        return request.method if request.method in self.METHODS else "<invalid method>"

    def process_exception(self, request, exception):
        self.metrics.exceptions_by_type.labels(type=type(exception).__name__).inc()


def _networks():
    return [ipaddress.ip_network(network, strict=False)
            for network in settings.MLPORTAL_METRICS_ALLOWED_NETWORKS]


def metrics_allowed(request):
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks())


def metrics(request):
    """Prometheus metrics, for the allowed networks only (404 for anyone else)."""
    from django_prometheus.exports import ExportToDjangoView

    if not settings.MLPORTAL_METRICS or not metrics_allowed(request):
        raise Http404
    return ExportToDjangoView(request)
