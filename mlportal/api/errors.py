"""How API errors look: DRF's shape, with 409 for conflicts and nothing left as a 500."""

from django.conf import settings
from django.core import exceptions as django_exceptions
from django.db import IntegrityError, models
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with an existing record."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    @classmethod
    def over(cls, limit):
        return cls(f"The request body is larger than the {limit / 1024 / 1024:g} MB this "
                   "endpoint accepts.")


def _only_uniqueness_errors(detail):
    codes = exceptions.ValidationError(detail).get_codes()

    def walk(node):
        if isinstance(node, dict):
            return all(walk(value) for value in node.values())
        if isinstance(node, list):
            return all(walk(value) for value in node)
        return node == "unique"

    return bool(codes) and walk(codes)


def validation_detail(error, field="non_field_errors"):
    """Django's ValidationError as DRF's {field: [message]}, keeping each message's code."""
    if hasattr(error, "error_dict"):
        return {
            (name if name != django_exceptions.NON_FIELD_ERRORS else "non_field_errors"): [
                ErrorDetail(message, code=item.code)
                for item in items
                for message in item.messages
            ]
            for name, items in error.error_dict.items()
        }
    return {field: [ErrorDetail(message, code=item.code) for item in error.error_list
                    for message in item.messages]}


def exception_handler(exc, context):
    """DRF's handler, plus: uniqueness -> 409, protected rows -> 409, model validation -> 400."""
    if isinstance(exc, django_exceptions.RequestDataTooBig):
        exc = PayloadTooLarge.over(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    elif isinstance(exc, django_exceptions.ValidationError):
        exc = exceptions.ValidationError(validation_detail(exc))
    elif isinstance(exc, (models.ProtectedError, models.RestrictedError)):
        blockers = sorted({str(obj) for obj in list(exc.protected_objects)[:5]}) if hasattr(
            exc, "protected_objects"
        ) else []
        message = "Cannot delete: other records depend on it."
        if blockers:
            message += " Still in use by: " + ", ".join(blockers) + "."
        exc = Conflict(message)
    elif isinstance(exc, django_exceptions.PermissionDenied):
        # Keep the reason the access rule gives (DRF would replace it with a generic one).
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, IntegrityError):
        exc = Conflict("This conflicts with an existing record.")
    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and isinstance(exc, exceptions.ValidationError)
        and _only_uniqueness_errors(exc.detail)
    ):
        response.status_code = status.HTTP_409_CONFLICT
    return response


def read_body(request, *, limit):
    """The raw body of a DRF request, up to `limit` bytes (where an endpoint must take more
    than DATA_UPLOAD_MAX_MEMORY_SIZE, such as a push webhook); PayloadTooLarge beyond."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge.over(limit)
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge.over(limit)
    return body
