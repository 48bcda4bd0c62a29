from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators as jsonschema_validators

NAMESPACE_SEGMENT = r"[a-z0-9][a-z0-9_-]*"

validate_namespace_path = RegexValidator(
    rf"^(/{NAMESPACE_SEGMENT})+\Z",
    "A namespace is a path such as /abc_corp/claim: a leading slash, lowercase segments of "
    "letters, digits, '_' and '-' (each starting with a letter or digit), no trailing slash.",
    code="invalid_namespace",
)

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
