"""Who acts, as which principal, from which request: the context that the access rule and
the audit trail both read (like NetBox's netbox/context.py).

A request (admin, API, pages) opens a context in ContextMiddleware; management commands
and services open one with `change_context(...)`. The context also carries the audit
trail's per-context state (the changes already recorded in it, see mlportal.audit).
"""

import contextvars
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.http import JsonResponse

PRINCIPAL_HEADER = "X-Principal"
PRINCIPAL_MAX_LENGTH = 255


@dataclass
class ChangeContext:
    user: object = None
    principal: str = ""
    source: str = ""
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    request: object = None
    # (content type id, object id) -> the ObjectChange written for it in this context
    changes: dict = field(default_factory=dict)

    @property
    def acting_user(self):
        """The signed-in user this context acts for: the one it was opened with, else the
        request's (DRF authenticates inside the view and writes the user back onto the
        request); None when nobody is signed in."""
        user = self.user
        if user is None and self.request is not None:
            user = getattr(self.request, "user", None)
        return user if user is not None and user.is_authenticated else None


_current = contextvars.ContextVar("mlportal_change_context", default=None)


def current_context():
    return _current.get()


def acting_user():
    """The signed-in user the current request or `change_context(user=...)` acts for."""
    context = current_context()
    return context.acting_user if context is not None else None


@contextmanager
def change_context(*, user=None, principal="", source="command"):
    """Attribute the changes made inside to `user` (and the client's `principal`)."""
    token = _current.set(ChangeContext(user=user, principal=principal or "", source=source))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def set_principal(principal):
    """Record the principal a client names (such as an IAM ARN) for this context's changes."""
    context = current_context()
    if context is not None and principal:
        context.principal = str(principal)[:PRINCIPAL_MAX_LENGTH]


def principal_error(value):
    """Why `value` cannot be a principal, or None when it can."""
    if len(value) > PRINCIPAL_MAX_LENGTH:
        return f"At most {PRINCIPAL_MAX_LENGTH} characters."
    if not value.isprintable():
        return "Printable characters only."
    return None


class ContextMiddleware:
    """Opens a context per request; API clients may name their principal in the
    X-Principal header (e.g. the IAM ARN of the pipeline calling)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = "admin" if request.path.startswith("/admin/") else (
            "api" if request.path.startswith("/api/") else "web"
        )
        principal = request.headers.get(PRINCIPAL_HEADER, "").strip() if source == "api" else ""
        error = principal_error(principal)
        if error:
            return JsonResponse({PRINCIPAL_HEADER: [error]}, status=400)
        context = ChangeContext(source=source, principal=principal, request=request)
        request.id = context.request_id
        token = _current.set(context)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = str(context.request_id)
        return response
