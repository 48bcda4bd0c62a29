"""Two versions of a model side by side, and a lineage: data sources -> model -> versions ->
the endpoints each version serves now.

/compare/?model=/abc_corp/claim/doc_classification&a=1&b=3 (the version numbers people know)
/lineage/?model=/abc_corp/claim/doc_classification, /lineage/?data_source=<name>

Read-only pages like the others: login required, every queryset through the access rule.
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import render

from catalog.models import CatalogModel, DataSource
from deployments.models import Deployment
from mlportal import access
from registry.models import VERSION_NUMBER, Alias, ModelVersion

# A lineage names at most this many idle versions of a model, then says how many more.
IDLE_SHOWN = 20

# Rows of the comparison: what the two sides say of one thing.
SAME, DIFFERENT, ONLY_A, ONLY_B = "same", "different", "only-a", "only-b"


class BadInput(Exception):
    """A request the page answers with a message (400) instead of a comparison."""


def _model(user, key):
    """The catalog model named by `key` (`/abc_corp/claim/doc_classification`, the leading
    slash optional) among those `user` may see; BadInput when unnamed, 404 when unknown."""
    key = (key or "").strip().strip("/")
    if not key:
        raise BadInput("Name the model: ?model=/namespace/model_name, such as "
                       "?model=/abc_corp/claim/doc_classification.")
    namespace_path, _, model_name = f"/{key}".rpartition("/")
    model = access.restrict(
        CatalogModel.objects.select_related("namespace").prefetch_related("data_sources"), user,
    ).filter(namespace__path=namespace_path, model_name=model_name).first()
    if model is None:
        raise Http404(f"No model /{key}.")
    return model


def _versions(model, user):
    return access.restrict(
        ModelVersion.objects.filter(catalog_model=model)
        .select_related("catalog_model__namespace")
        .prefetch_related("artifacts", "tags", "aliases"),
        user,
    ).order_by("-model_version")


def _serving_now(versions, user):
    """{version pk: [the deployments of it that serve an endpoint now]}, oldest first."""
    serving = {version.pk: [] for version in versions}
    deployments = access.restrict(
        Deployment.objects.active().filter(model_version__in=list(serving))
        .select_related("model_version"),
        user,
    ).order_by("active_from", "pk")
    for deployment in deployments:
        serving[deployment.model_version_id].append(deployment)
    return serving


def _number(name, text, model):
    """The version number in `text` ("3" or "v3"), or BadInput naming the field."""
    text = (text or "").strip()
    if not text:
        raise BadInput(f"Choose version {name}: ?{name}= takes a version number of "
                       f"{model.model_name}, such as {name}=1.")
    match = VERSION_NUMBER.match(text)
    if not match:
        raise BadInput(f"{name}={text!r} is not a version number: give a number such as "
                       f"{name}=1 (or v1).")
    return int(match.group(1))


def _metric(value):
    """A tag value that reads as a finite number (accuracy=0.93), else None. Decimal, so that
    0.934 - 0.91 is 0.024 as people write it."""
    try:
        number = Decimal(str(value).strip())
    except (TypeError, ValueError, InvalidOperation):
        return None
    return number if number.is_finite() else None


def _state(left, right, same):
    if left is None:
        return ONLY_B
    if right is None:
        return ONLY_A
    return SAME if same(left, right) else DIFFERENT


@dataclass
class Row:
    name: str
    a: object
    b: object
    state: str
    note: str = ""
    delta: Decimal | None = None
    extra: dict = field(default_factory=dict)

    @property
    def delta_text(self):
        """The difference as people write it: +0.024, -3, 0."""
        if self.delta is None:
            return ""
        text = format(self.delta.normalize(), "f")
        return text if self.delta <= 0 else f"+{text}"

    @property
    def sides(self):
        return [self.a, self.b]

    @property
    def differs(self):
        return self.state != SAME


def _same_artifact(left, right):
    if left.sha256 and right.sha256:
        return left.sha256 == right.sha256
    return left.uri == right.uri


def _artifact_note(left, right):
    if left is None or right is None:
        return ""
    if left.sha256 and right.sha256:
        return "same content (sha256)" if left.sha256 == right.sha256 else "different content"
    return "same URI" if left.uri == right.uri else "different URI"


def artifact_rows(left, right):
    """[Row] per artifact name of either version: same when the content (sha256, for
    uploads) or else the URI is the same."""
    a = {artifact.name: artifact for artifact in left.artifacts.all()}
    b = {artifact.name: artifact for artifact in right.artifacts.all()}
    return [Row(name, a.get(name), b.get(name),
                _state(a.get(name), b.get(name), _same_artifact),
                _artifact_note(a.get(name), b.get(name)))
            for name in sorted(set(a) | set(b))]


def tag_rows(left, right):
    """([metric Row], [other tag Row]): tags whose values both read as numbers are metrics,
    with b - a as their difference."""
    a = {tag.key: tag.value for tag in left.tags.all()}
    b = {tag.key: tag.value for tag in right.tags.all()}
    metrics, others = [], []
    for key in sorted(set(a) | set(b)):
        row = Row(key, a.get(key), b.get(key), _state(a.get(key), b.get(key), str.__eq__))
        numbers = (_metric(row.a), _metric(row.b))
        if None not in numbers:
            row.delta = numbers[1] - numbers[0]
            row.state = SAME if row.delta == 0 else DIFFERENT
            metrics.append(row)
        else:
            others.append(row)
    return metrics, others


def _compare_context(request):
    """The page's context; BadInput for what the person must correct, Http404 for a model
    that is not there."""
    model = _model(request.user, request.GET.get("model"))
    versions = _versions(model, request.user)
    numbers = list(versions.values_list("model_version", flat=True))
    context = {"model": model, "numbers": numbers, "model_key": str(model)}
    if "a" not in request.GET and "b" not in request.GET:
        # Arrived from the model page: offer the two latest, compare nothing yet.
        context["a"], context["b"] = (numbers[1:2] or [None])[0], (numbers[:1] or [None])[0]
        return context
    context["a"], context["b"] = request.GET.get("a", ""), request.GET.get("b", "")
    chosen = []
    for name in ("a", "b"):
        number = _number(name, request.GET.get(name), model)
        if number not in numbers:
            raise BadInput(f"{model} has no version {number} ({name}={number}); its versions: "
                           + (", ".join(f"v{n}" for n in sorted(numbers)) or "none") + ".")
        chosen.append(number)
    context["a"], context["b"] = chosen
    # Only the two compared versions' artifacts and tags are read, however many there are.
    by_number = {version.model_version: version
                 for version in versions.filter(model_version__in=chosen)}
    left, right = by_number[chosen[0]], by_number[chosen[1]]
    serving = _serving_now([left, right], request.user)
    metrics, tags = tag_rows(left, right)
    status = Row("status", left.get_status_display(), right.get_status_display(),
                 SAME if left.status == right.status else DIFFERENT)
    aliases = Row("aliases", left.alias_names(), right.alias_names(),
                  SAME if left.alias_names() == right.alias_names() else DIFFERENT)
    return context | {
        "left": left, "right": right, "sides": [left, right],
        "status_row": status, "alias_row": aliases,
        "description_row": Row("description", left.description, right.description,
                               SAME if left.description == right.description else DIFFERENT),
        "artifact_rows": artifact_rows(left, right),
        "metric_rows": metrics, "tag_rows": tags,
        "serving": [serving[left.pk], serving[right.pk]],
        "input_schema": json.dumps(model.inference_input_schema, indent=2),
        "output_schema": json.dumps(model.inference_output_schema, indent=2),
    }


@login_required
def compare_page(request):
    try:
        context = _compare_context(request)
    except BadInput as error:
        key = request.GET.get("model", "")
        context = {"error": str(error)}
        if key.strip().strip("/"):
            model = _model(request.user, key)
            context |= {"model": model, "model_key": str(model),
                        "numbers": list(_versions(model, request.user)
                                        .values_list("model_version", flat=True)),
                        "a": request.GET.get("a", ""), "b": request.GET.get("b", "")}
        return render(request, "portal/compare.html", context, status=400)
    return render(request, "portal/compare.html", context)


@dataclass
class ModelLineage:
    """One model's part of a lineage: its data sources, the versions that serve an endpoint
    now or that an alias names (with the deployments serving now), and the others."""

    model: CatalogModel
    sources: list
    versions: list  # [(version, [deployment serving now])]
    idle: list  # the numbers of the versions that serve nothing now and hold no alias
    also_fed_by: list = field(default_factory=list)  # under a data source: its other sources

    @property
    def version_count(self):
        return len(self.versions) + len(self.idle)

    @property
    def idle_shown(self):
        return self.idle[:IDLE_SHOWN]

    @property
    def idle_more(self):
        return max(0, len(self.idle) - IDLE_SHOWN)


def _model_lineages(models, user):
    """Each model's lineage. The versions that serve or hold an alias are read whole; of the
    others only the numbers, so that a model with thousands of versions stays cheap."""
    models = list(models)
    versions = access.restrict(ModelVersion.objects.filter(catalog_model__in=models), user)
    active = access.restrict(Deployment.objects.active(), user).values("model_version")
    aliased = access.restrict(Alias.objects.all(), user).values("version")
    notable = Q(pk__in=active) | Q(pk__in=aliased)
    shown = list(versions.filter(notable)
                 .select_related("catalog_model__namespace").prefetch_related("aliases")
                 .order_by("catalog_model", "-model_version"))
    serving = _serving_now(shown, user)
    idle = {}
    for model_pk, number in versions.exclude(notable).order_by(
            "catalog_model", "-model_version").values_list("catalog_model", "model_version"):
        idle.setdefault(model_pk, []).append(number)
    return [
        ModelLineage(
            model, list(model.data_sources.all()),
            [(version, serving[version.pk]) for version in shown
             if version.catalog_model_id == model.pk],
            idle.get(model.pk, []))
        for model in models
    ]


@login_required
def lineage_page(request):
    """The lineage of a model (?model=) or of a data source (?data_source=): the data
    sources, the model(s), their versions, and the endpoints each version serves now."""
    source_name = request.GET.get("data_source", "").strip()
    try:
        if source_name:
            source = access.restrict(DataSource.objects.all(), request.user).filter(
                name=source_name).first()
            if source is None:
                raise Http404(f"No data source {source_name!r}.")
            models = access.restrict(
                source.models.select_related("namespace").prefetch_related("data_sources"),
                request.user).order_by("namespace__path", "model_name")
            lineages = _model_lineages(models, request.user)
            for lineage in lineages:
                lineage.also_fed_by = [s for s in lineage.sources if s.pk != source.pk]
            context = {"source": source, "lineages": lineages}
        else:
            model = _model(request.user, request.GET.get("model"))
            context = {"model": model, "lineages": _model_lineages([model], request.user)}
    except BadInput:
        return render(request, "portal/lineage.html", {
            "error": "Name a model (?model=/abc_corp/claim/doc_classification) or a data "
                     "source (?data_source=<its name>)."}, status=400)
    return render(request, "portal/lineage.html", context)
