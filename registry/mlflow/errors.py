"""MLflow's error contract: `{"error_code": ..., "message": ...}` with the HTTP status MLflow's
own server gives each code (mlflow/exceptions.py, ERROR_CODE_TO_HTTP_STATUS)."""

from django.core import exceptions as django_exceptions
from django.db import IntegrityError
from rest_framework import exceptions
from rest_framework.response import Response

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"

STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    RESOURCE_CONFLICT: 409,
    PERMISSION_DENIED: 403,
    UNAUTHENTICATED: 401,
    ENDPOINT_NOT_FOUND: 404,
    REQUEST_LIMIT_EXCEEDED: 429,
}


class MlflowError(Exception):
    def __init__(self, error_code, message):
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    def response(self):
        return Response({"error_code": self.error_code, "message": self.message},
                        status=STATUS[self.error_code])


def invalid(message):
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def not_found(message):
    return MlflowError(RESOURCE_DOES_NOT_EXIST, message)


def validation_message(error):
    """A Django ValidationError as one sentence naming each field."""
    if hasattr(error, "error_dict"):
        return " ".join(
            f"{'' if name == django_exceptions.NON_FIELD_ERRORS else name + ': '}"
            f"{' '.join(messages)}"
            for name, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


def is_uniqueness(error):
    if not hasattr(error, "error_dict"):
        return False
    return all(item.code == "unique" for items in error.error_dict.values() for item in items)


def as_mlflow_error(exc):
    """The MlflowError for any exception a view may raise; None for an unexpected one."""
    if isinstance(exc, MlflowError):
        return exc
    if isinstance(exc, django_exceptions.ValidationError):
        code = RESOURCE_ALREADY_EXISTS if is_uniqueness(exc) else INVALID_PARAMETER_VALUE
        return MlflowError(code, validation_message(exc))
    if isinstance(exc, (django_exceptions.PermissionDenied, exceptions.PermissionDenied)):
        return MlflowError(PERMISSION_DENIED, str(exc) or "Permission denied.")
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return MlflowError(UNAUTHENTICATED, str(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        return MlflowError(REQUEST_LIMIT_EXCEEDED, str(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        detail = exc.detail
        if isinstance(detail, dict):  # the portal's parser names the field nested too deep
            detail = "; ".join(f"{key}: {' '.join(str(message) for message in messages)}"
                               for key, messages in detail.items())
        return MlflowError(INVALID_PARAMETER_VALUE, f"The request body is not JSON: {detail}")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return MlflowError(INVALID_PARAMETER_VALUE, str(exc.detail))
    if isinstance(exc, exceptions.MethodNotAllowed):
        return MlflowError(ENDPOINT_NOT_FOUND, str(exc.detail))
    if isinstance(exc, IntegrityError):
        return MlflowError(RESOURCE_ALREADY_EXISTS, "This conflicts with an existing record.")
    return None


def exception_handler(exc, context):
    error = as_mlflow_error(exc)
    if error is None:
        return None
    response = error.response()
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    if error.error_code == UNAUTHENTICATED:
        response["WWW-Authenticate"] = 'Basic realm="mlportal", Bearer'
    return response
