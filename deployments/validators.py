import re

from django.core.exceptions import ValidationError
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


# What a deployment's `resource` names, by deployment method. Partitions: aws, aws-cn,
# aws-us-gov. EKS has no ARN for a Kubernetes Deployment: its cluster's ARN, then the
# Deployment's namespace and name, as the Kubernetes API path spells them.
_ARN_HEAD = (r"arn:aws(?:-cn|-us-gov)?:{service}:(?P<region>[a-z]{{2}}(?:-[a-z]+)+-\d):"
             r"(?P<account>\d{{12}}):")
_K8S_NAME = r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?"
RESOURCE_PATTERNS = {
    "sagemaker": (
        re.compile(_ARN_HEAD.format(service="sagemaker")
                   + r"endpoint/(?P<name>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})\Z"),
        "arn:aws:sagemaker:<region>:<account>:endpoint/<endpoint name>",
    ),
    "ecs": (
        re.compile(_ARN_HEAD.format(service="ecs")
                   + r"service/(?P<cluster>[A-Za-z0-9_-]{1,255})/(?P<name>[A-Za-z0-9_-]{1,255})\Z"),
        "arn:aws:ecs:<region>:<account>:service/<cluster>/<service name>",
    ),
    "lambda": (
        re.compile(_ARN_HEAD.format(service="lambda")
                   + r"function:(?P<name>[A-Za-z0-9_-]{1,64})"
                   + r"(?::(?P<qualifier>[A-Za-z0-9$_-]{1,128}))?\Z"),
        "arn:aws:lambda:<region>:<account>:function:<function name>[:<alias or version>]",
    ),
    "eks": (
        re.compile(_ARN_HEAD.format(service="eks")
                   + r"cluster/(?P<cluster>[A-Za-z0-9][A-Za-z0-9_-]{0,99})"
                   + rf"/namespaces/(?P<namespace>{_K8S_NAME})"
                   + rf"/deployments/(?P<name>{_K8S_NAME})\Z"),
        "arn:aws:eks:<region>:<account>:cluster/<cluster>/namespaces/<namespace>/deployments/"
        "<Deployment name>",
    ),
}


def parse_resource(resource):
    """(method, parts) of a resource ARN any method accepts, else (None, {})."""
    for method, (pattern, _) in RESOURCE_PATTERNS.items():
        match = pattern.match(resource or "")
        if match:
            return method, match.groupdict()
    return None, {}


def validate_resource(method, resource):
    """A ValidationError (its message names what `method` expects) unless `resource` is the
    ARN of a resource that `method` deploys to."""
    if method not in RESOURCE_PATTERNS:
        return
    pattern, shape = RESOURCE_PATTERNS[method]
    if pattern.match(resource):
        return
    found, _ = parse_resource(resource)
    said = f" ({found} resource)" if found else ""
    raise ValidationError(
        f"A {method} deployment's resource is {shape}; got {resource!r}{said}.",
        code="invalid_resource",
    )


validate_account_id = RegexValidator(
    r"^\d{12}\Z", "An AWS account id is 12 digits.", code="invalid_account_id"
)
REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d\Z")
ROLE_ARN = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}\Z"
)


def validate_regions(value):
    regions = [region.strip() for region in value.split(",")]
    wrong = [region for region in regions if not REGION.match(region)]
    if not value.strip() or wrong:
        raise ValidationError(
            "AWS regions, comma-separated, such as us-east-1,eu-west-1"
            + (f"; not a region: {', '.join(repr(r) for r in wrong)}." if wrong and value.strip()
               else "."),
            code="invalid_regions",
        )


def validate_role_arn(value):
    if not ROLE_ARN.match(value):
        raise ValidationError(
            "The ARN of an IAM role, such as arn:aws:iam::123456789012:role/mlportal-reader.",
            code="invalid_role_arn",
        )
