"""Failed sign-ins throttled per client address, on every sign-in path alike.

Django sends `user_login_failed` for every failed `authenticate(request, ...)`; each failure
is counted in the cache. Once a client address has MLPORTAL_LOGIN_RATE failures in the
window, `ThrottledModelBackend` (AUTHENTICATION_BACKENDS) refuses its sign-ins on
any path until the oldest failure leaves the window; the admin login and the token endpoint
answer 429 with Retry-After. Successful sign-ins do not count, so many colleagues behind
one proxy are not locked out.
"""

import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _rate():
    """(failures allowed, window in seconds) from a rate such as "10/minute"."""
    count, period = settings.MLPORTAL_LOGIN_RATE.split("/")
    return int(count), PERIODS[period.strip()[0]]


def client_address(request):
    # DRF's reading of REMOTE_ADDR and X-Forwarded-For, trusting NUM_PROXIES proxies only.
    return BaseThrottle().get_ident(request)


def _key(request):
    return f"mlportal:login-failures:{client_address(request)}"


def _recent_failures(request, now):
    _, window = _rate()
    return [moment for moment in cache.get(_key(request), []) if moment > now - window]


def retry_after(request):
    """Seconds until this client may try to sign in again; None when it may now."""
    allowed, window = _rate()
    now = time.time()
    failures = _recent_failures(request, now)
    if len(failures) < allowed:
        return None
    return max(1, int(failures[-allowed] + window - now) + 1)


def _record_failure(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    _, window = _rate()
    now = time.time()
    cache.set(_key(request), [*_recent_failures(request, now), now], window)


def connect_signals():
    user_login_failed.connect(_record_failure, dispatch_uid="login_throttle_failures")


def locked_out_response(request):
    """A 429 for a sign-in POST from a throttled client address; None when it may try."""
    wait = retry_after(request) if request.method == "POST" else None
    if wait is None:
        return None
    response = HttpResponse(
        f"Too many failed sign-ins from your address; try again in {wait} seconds.",
        status=429, content_type="text/plain",
    )
    response["Retry-After"] = str(wait)
    return response


class ThrottledLoginView(LoginView):
    """Django's sign-in page, answering 429 while the client address is throttled."""

    def post(self, request, *args, **kwargs):
        return locked_out_response(request) or super().post(request, *args, **kwargs)


class ThrottledModelBackend(ModelBackend):
    """Django's username and password backend, refusing every sign-in from a throttled client
    address, whichever view asks."""

    def authenticate(self, request, **credentials):
        if request is not None and retry_after(request) is not None:
            # Stops authenticate() before the password is even checked.
            raise PermissionDenied("Too many failed sign-ins from this address.")
        return super().authenticate(request, **credentials)


class LoginRateThrottle(BaseThrottle):
    """DRF's face of the sign-in throttle (the token endpoint)."""

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        self._wait = retry_after(request)
        return self._wait is None

    def wait(self):
        return self._wait
