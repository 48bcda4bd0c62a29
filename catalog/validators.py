import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators as jsonschema_validators

# Namespaces are the unit of access: their paths are checked by the framework.
from mlportal.access import NAMESPACE_SEGMENT, validate_namespace_path  # noqa: F401

GIT_URL_SCHEMES = {"https", "http", "ssh", "git", "file"}
GIT_SCP_LIKE = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:[^/].*\Z")
GIT_REF = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./-]*\Z")
GIT_SUBDIRECTORY = re.compile(r"^(?!.*(^|/)\.\.?(/|$))[^/\\][^\\]*\Z")


validate_model_name = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z",
    "A model name starts with a letter or digit and holds only letters, digits, '_', '.' "
    "and '-'.",
    code="invalid_model_name",
)

validate_http_url = URLValidator(
    schemes=["http", "https"], message="Enter an http:// or https:// URL."
)


def validate_json_schema(value):
    """Reject anything that is not a JSON Schema (the draft it declares, else 2020-12)."""
    if not isinstance(value, dict | bool):
        raise ValidationError("A JSON Schema is an object, such as {\"type\": \"object\"}.")
    validator_class = jsonschema_validators.validator_for(value) if isinstance(value, dict) else (
        jsonschema_validators.Draft202012Validator
    )
    try:
        validator_class.check_schema(value)
    except jsonschema_exceptions.SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        raise ValidationError(
            f"Not a valid JSON Schema{' at ' + where if where else ''}: {exc.message}"
        ) from exc


def validate_repository(value):
    """A URL git can fetch (https, ssh, git, file, or user@host:path) or an absolute path,
    without credentials: the repository is shown in the admin, the API and the audit trail."""
    if value.startswith("/"):
        return
    if GIT_SCP_LIKE.match(value):
        return
    parts = urlsplit(value)
    if parts.scheme not in GIT_URL_SCHEMES or not (parts.netloc or parts.scheme == "file"):
        raise ValidationError(
            "Give an https://, ssh://, git:// or file:// URL, user@host:path, or an absolute "
            "path on the server.", code="invalid_repository")
    if parts.password is not None or (parts.scheme in {"http", "https"} and parts.username):
        raise ValidationError(
            "Put no credentials in the repository URL (it is shown in the portal); give the "
            "server access with an SSH key or a git credential helper.",
            code="credentials_in_url")


def validate_ref(value):
    if not GIT_REF.match(value):
        raise ValidationError(
            "A ref is a branch, tag or commit id such as main, v1.2 or refs/heads/main "
            "(letters, digits, '_', '.', '/', '-'; no '..').", code="invalid_ref")


def validate_subdirectory(value):
    if value and not GIT_SUBDIRECTORY.match(value.rstrip("/")):
        raise ValidationError(
            "A subdirectory is a path inside the repository such as cards or models/claims "
            "(no leading '/', no '..').", code="invalid_subdirectory")
