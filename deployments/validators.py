from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator

validate_variable_name = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*\Z",
    "An environment variable name starts with a letter or '_' and holds only letters, "
    "digits and '_'.",
    code="invalid_variable_name",
)

TRAFFIC_PERCENT_VALIDATORS = [
    MinValueValidator(1, "A traffic percent is between 1 and 100."),
    MaxValueValidator(100, "A traffic percent is between 1 and 100."),
]
