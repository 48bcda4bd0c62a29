"""Failed sign-ins throttled per client address, on every sign-in path alike.

The counts are rows of the database (SignInFailures), so that every worker process and every
machine counts together. Each password check first takes a place in its client address's
window with one atomic UPDATE (count = count + 1 where count < the limit), and gives it back
when the sign-in succeeds: however many sign-ins arrive at once, from however many workers,
no more than MLPORTAL_LOGIN_RATE failures a window reach the password check. Once an address
has used its window, `ThrottledModelBackend` (AUTHENTICATION_BACKENDS) refuses its sign-ins on
any path until the window ends; the admin login and the token endpoint answer 429 with
Retry-After. Successful sign-ins do not count, so many colleagues behind one proxy are not
locked out.

Each path looks at the window before it checks a password (`retry_after`), and the backend
takes its place only afterwards; concurrent failures from other workers can use the window up
in between. The backend then refuses unchecked and marks the request (`refused_wait`), so that
the path answers 429 as well, rather than "wrong credentials" for a password never checked.
"""

import datetime
from functools import partial

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from mlportal.models import SignInFailures

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Set on a request whose sign-in the backend refused without checking its password.
REFUSED_UNCHECKED = "sign_in_refused_unchecked"


def _rate():
    """(failures allowed, window) from a rate such as "10/minute"."""
    count, period = settings.MLPORTAL_LOGIN_RATE.split("/")
    return int(count), datetime.timedelta(seconds=PERIODS[period.strip()[0]])


def client_address(request):
    # DRF's reading of REMOTE_ADDR and X-Forwarded-For, trusting NUM_PROXIES proxies only.
    return (BaseThrottle().get_ident(request) or "")[:100]


def take_attempt(address):
    """Take one of the address's sign-in attempts in the current window: True when it had
    one left (it now counts as a failure until `give_back_attempt`)."""
    allowed, window = _rate()
    now = timezone.now()
    rows = SignInFailures.objects.filter(address=address)
    for _ in range(5):
        if rows.filter(window_start__gt=now - window, count__lt=allowed).update(
                count=F("count") + 1):
            return True
        if allowed > 0 and rows.filter(window_start__lte=now - window).update(
                window_start=now, count=1):
            return True  # the window had ended: a new one starts
        row = rows.first()
        if row is None:
            try:
                with transaction.atomic():
                    SignInFailures.objects.create(address=address, window_start=now,
                                                  count=min(1, allowed))
                return allowed > 0
            except IntegrityError:
                continue  # another worker created it meanwhile: count in its row
        if row.window_start > now - window and row.count >= allowed:
            return False  # the window is used up
        # Another worker started a new window meanwhile: try again in it.
    return False


def give_back_attempt(address):
    """A sign-in that succeeded does not count."""
    SignInFailures.objects.filter(address=address, count__gt=0).update(count=F("count") - 1)


def retry_after(request):
    """Seconds until this client may try to sign in again; None when it may now."""
    allowed, window = _rate()
    now = timezone.now()
    row = SignInFailures.objects.filter(address=client_address(request)).first()
    if row is None or row.window_start <= now - window or row.count < allowed:
        return None
    return max(1, int((row.window_start + window - now).total_seconds()) + 1)


def refused_wait(request):
    """Seconds to wait when the backend refused this request's own sign-in unchecked; None
    when its password was checked (or none was asked for)."""
    if not getattr(request, REFUSED_UNCHECKED, False):
        return None
    return retry_after(request) or 1  # the window may have ended since


def locked_out_response(request):
    """A 429 for a sign-in POST from a throttled client address; None when it may try."""
    wait = retry_after(request) if request.method == "POST" else None
    return None if wait is None else too_many_sign_ins_response(wait)


def throttled_sign_in(request, sign_in):
    """A sign-in page's answer: 429 while the client address is throttled, and when its
    password went unchecked because the window was used up meanwhile; else sign_in()'s."""
    response = locked_out_response(request) or sign_in()
    wait = refused_wait(request)
    return response if wait is None else too_many_sign_ins_response(wait)


def too_many_sign_ins(wait):
    return f"Too many failed sign-ins from your address; try again in {wait} seconds."


def too_many_sign_ins_response(wait):
    response = HttpResponse(too_many_sign_ins(wait), status=429, content_type="text/plain")
    response["Retry-After"] = str(wait)
    return response


class ThrottledLoginView(LoginView):
    """Django's sign-in page, answering 429 while the client address is throttled."""

    def post(self, request, *args, **kwargs):
        return throttled_sign_in(request, partial(super().post, request, *args, **kwargs))


class ThrottledModelBackend(ModelBackend):
    """Django's username and password backend, refusing every sign-in from a throttled client
    address, whichever view asks."""

    def authenticate(self, request, **credentials):
        if request is None:
            return super().authenticate(request, **credentials)
        address = client_address(request)
        if not take_attempt(address):
            setattr(request, REFUSED_UNCHECKED, True)
            # Stops authenticate() before the password is even checked.
            raise PermissionDenied("Too many failed sign-ins from this address.")
        user = super().authenticate(request, **credentials)
        if user is not None:
            give_back_attempt(address)
        return user


class LoginRateThrottle(BaseThrottle):
    """DRF's face of the sign-in throttle (the token endpoint)."""

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        self._wait = retry_after(request)
        return self._wait is None

    def wait(self):
        return self._wait
