"""MLflow's registered-model names <-> the catalog's (namespace, model_name).

- `abc_corp.claim.doc_classification` is the model `doc_classification` in the namespace
  `/abc_corp/claim`: every dot but the last separates namespace segments;
- a name without a dot, `churn`, is a model of the default namespace
  (settings.MLPORTAL_MLFLOW_DEFAULT_NAMESPACE, `/mlflow`), and the models of that namespace
  are named without it;
- a catalog model whose own name holds dots (`/abc_corp` + `v1.2`) is named
  `abc_corp.v1.2`; looking a name up tries each split, the longest namespace first (then the
  default namespace), so such models are found too. A new model always takes the first split,
  and a name whose namespace part breaks the namespace rule (`Abc.model`) is refused.

Each catalog model stores its MLflow name (CatalogModel.mlflow_name, indexed), which the
searches order and filter by.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q

from catalog.models import mlflow_name  # noqa: F401 (the names' one definition)
from catalog.validators import validate_model_name, validate_namespace_path
from registry.mlflow.errors import invalid

RULE = (
    "An MLflow model name is <namespace segments joined by '.'>.<model name>, such as "
    "abc_corp.claim.doc_classification (the model doc_classification in /abc_corp/claim), or a "
    "name without a dot for the namespace {default}. Namespace segments are lowercase letters, "
    "digits, '_' and '-', starting with a letter or digit; a model name starts with a letter or "
    "digit and holds letters, digits, '_', '.' and '-' (no '/')."
)


def default_namespace():
    return settings.MLPORTAL_MLFLOW_DEFAULT_NAMESPACE


def rule():
    return RULE.format(default=default_namespace())


def _valid(path, model_name):
    try:
        validate_namespace_path(path)
        validate_model_name(model_name)
    except ValidationError:
        return False
    return len(path) <= 255 and len(model_name) <= 200


# The longest name a catalog model can have: a namespace path of 255 characters (its leading
# "/" dropped), a dot and a model name of 200.
MAX_LENGTH = 254 + 1 + 200


def candidates(name):
    """Every (namespace path, model_name) that `name` may stand for, the canonical one first."""
    if not isinstance(name, str) or not name or "/" in name or len(name) > MAX_LENGTH:
        return []
    found = []
    if "." not in name:
        found.append((default_namespace(), name))
    else:
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            path = "/" + "/".join(parts[:cut])
            model_name = ".".join(parts[cut:])
            if _valid(path, model_name):
                found.append((path, model_name))
        found.append((default_namespace(), name))
    return [(path, model_name) for path, model_name in found if _valid(path, model_name)]


def parse(name, field="name"):
    """The (namespace path, model_name) a new model named `name` gets; INVALID_PARAMETER_VALUE
    naming the rule when the name does not fit."""
    if not isinstance(name, str) or not name:
        raise invalid(f"Missing value for required parameter '{field}'.")
    head, dot, tail = name.rpartition(".")
    path, model_name = ("/" + head.replace(".", "/"), tail) if dot else (
        default_namespace(), name)
    if "/" in name or not _valid(path, model_name):
        raise invalid(f"Invalid value '{name}' for parameter '{field}': {rule()}")
    return path, model_name


def lookup_q(name, prefix=""):
    """A condition on catalog models (reached through `prefix`, such as "catalog_model__")
    matching the models `name` stands for; matches nothing for a name that fits no model."""
    return Q(Q(pk__in=[]), *(
        Q(**{f"{prefix}namespace__path": path, f"{prefix}model_name": model_name})
        for path, model_name in candidates(name)), _connector=Q.OR)
