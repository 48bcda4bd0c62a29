"""The search page's one box: over models, versions, deployments, data sources, owners and
endpoints, grouped by kind, with facets. The API's FilterSets do the filtering; every
queryset passes through the access rule.

A kind is shown when it supports every facet chosen; each query a kind runs is fixed in
number, whatever the number of results.
"""

import datetime
from abc import ABC, abstractmethod
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse

from catalog.filtersets import CatalogModelFilterSet, DataSourceFilterSet
from catalog.models import CatalogModel, DataSource, ModelDataSource, Namespace
from deployments.choices import DeploymentMethod, DeploymentStatus
from deployments.filtersets import DeploymentFilterSet
from deployments.models import Deployment, DriftFinding
from mlportal import access, fulltext
from registry.choices import VersionStatus
from registry.filtersets import ModelVersionFilterSet
from registry.models import Alias, ModelVersion, Tag

PAGE_SIZE = 20
COUNT_LIMIT = 1000
PREVIEW_SIZE = 5
FACET_SIZE = 10

MODEL_TEXT = ["model_name", "description", "owner"]
MODEL_NAME_TEXT = ["model_name"]
DATA_SOURCE_TEXT = ["name", "type", "description", "owner"]
VERSION_TEXT = ["description", "created_by"]
DEPLOYMENT_TEXT = ["endpoint", "environment"]
ALIAS_TEXT = ["name"]
TAG_TEXT = ["key", "value"]

FACET_LABELS = {
    "namespace": "Namespace",
    "owner": "Owner",
    "data_source_type": "Data source type",
    "deployment_method": "Deployment method",
    "environment": "Environment",
    "status": "Status",
}


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    kind = forms.CharField(required=False)
    namespace = forms.CharField(required=False, max_length=255)
    owner = forms.CharField(required=False, max_length=254)
    data_source_type = forms.CharField(required=False, max_length=50)
    deployment_method = forms.ChoiceField(
        required=False, choices=[("", "any"), *DeploymentMethod.choices],
        error_messages={"invalid_choice": "One of: "
                        + ", ".join(DeploymentMethod.values) + "."})
    environment = forms.CharField(required=False, max_length=50)
    status = forms.ChoiceField(
        required=False, choices=[("", "any"), *VersionStatus.choices, *DeploymentStatus.choices],
        error_messages={"invalid_choice": "One of: "
                        + ", ".join([*VersionStatus.values, *DeploymentStatus.values]) + "."})
    since = forms.DateField(required=False, input_formats=["%Y-%m-%d"],
                            error_messages={"invalid": "Give a date as 2024-01-31."})
    until = forms.DateField(required=False, input_formats=["%Y-%m-%d"],
                            error_messages={"invalid": "Give a date as 2024-01-31."})

    def clean_kind(self):
        kind = self.cleaned_data["kind"]
        if kind and kind not in KINDS:
            raise forms.ValidationError(f"One of: {', '.join(KINDS)}.")
        return kind

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end of the range comes before its start.")
        return data

    def facets_chosen(self):
        return {name: self.cleaned_data[name] for name in FACET_LABELS
                if self.cleaned_data.get(name)}


def _day_bounds(since, until):
    """ISO datetimes for a FilterSet's create_at range: from the start of `since` to the
    end of `until` (UTC)."""
    after = before = None
    if since:
        after = datetime.datetime.combine(since, datetime.time(), datetime.UTC).isoformat()
    if until:
        before = datetime.datetime.combine(until, datetime.time.max,
                                           datetime.UTC).isoformat()
    return after, before


def _facet(queryset, field, name, chosen, labels=None, many=False):
    """The `FACET_SIZE` most frequent values of `field` in `queryset`, with their counts.

    `many`: `field` is across a many-valued relation, so rows must be counted once each."""
    # One filter() call: on a many-valued relation, the join it counts must be the same.
    many = many or queryset.query.distinct
    rows = (queryset.order_by().filter(**{f"{field}__gt": ""})
            .values(field).annotate(count=Count("pk", distinct=many))
            .order_by("-count", field)[:FACET_SIZE])
    labels = labels or {}
    return {
        "name": name,
        "label": FACET_LABELS[name],
        "values": [
            {"value": row[field], "label": labels.get(row[field], row[field]),
             "count": row["count"], "selected": chosen.get(name) == row[field]}
            for row in rows
        ],
    }


class Kind(ABC):
    key = label = ""
    facets = ()
    dated = True

    def __init__(self, user):
        self.user = user

    def supports(self, chosen, has_dates):
        return set(chosen) <= set(self.facets) and (self.dated or not has_dates)

    @abstractmethod
    def results(self, q, chosen, since, until):
        """The rows matching, or None when the FilterSet refuses the facets."""

    def rows(self, results):
        """`results` with what only the listed rows need (prefetches, per-row counts)."""
        return results

    def facet_counts(self, results, chosen):
        return []

    @abstractmethod
    def csv_row(self, row):
        """The row's cells in the CSV export."""


def _filtered_or_none(filterset):
    return filterset.qs if filterset.is_valid() else None


class ModelKind(Kind):
    key, label = "models", "Models"
    facets = ("namespace", "owner", "data_source_type")

    def results(self, q, chosen, since, until):
        after, before = _day_bounds(since, until)
        queryset = access.restrict(CatalogModel.objects.select_related("namespace"), self.user)
        queryset = _filtered_or_none(CatalogModelFilterSet(data={
            "within": chosen.get("namespace"), "owner": chosen.get("owner"),
            "data_source_type": chosen.get("data_source_type"),
            "create_at_after": after, "create_at_before": before,
        }, queryset=queryset))
        if queryset is None:
            return None
        return matching_models(queryset, q)

    def rows(self, results):
        return results.prefetch_related("data_sources")

    def facet_counts(self, results, chosen):
        return [
            _facet(results, "namespace__path", "namespace", chosen),
            _facet(results, "owner", "owner", chosen),
            _facet(results, "data_sources__type", "data_source_type", chosen, many=True),
        ]

    def csv_row(self, model):
        return {"namespace": model.namespace.path, "model_name": model.model_name,
                "owner": model.owner, "description": model.description,
                "create_at": model.create_at, "link": model.get_absolute_url()}


def matching_models(queryset, q):
    """Models whose own text, or whose namespace's path, holds every word of `q`."""
    terms = fulltext.words(q)
    if not terms:
        return queryset
    return fulltext.matches(queryset, q, MODEL_TEXT,
                            also=[in_namespaces(q, "namespace"), fed_by(q, "pk")])


def named_models(q, lookup="catalog_model"):
    """Q: the row belongs to a model whose name holds every word of `q`."""
    models = fulltext.matches(CatalogModel.objects.all(), q, MODEL_NAME_TEXT)
    return Q(**{f"{lookup}__in": models.values("pk")})


# Search reaches every kind through the names people know it by: a version or a deployment
# is found by its model's name, its namespace, the data sources feeding its model, its
# version's aliases and tags; a deployment also by its method; a model by its data sources.
# Each condition holds every word of the query in one related name.

def in_namespaces(q, lookup="catalog_model__namespace"):
    """Q: the row's namespace path holds every word (`/abc_corp/claim`, `claim`)."""
    namespaces = Namespace.objects.filter(fulltext.every_word_in(q, ["path"]))
    return Q(**{f"{lookup}__in": namespaces.values("pk")})


def fed_by(q, lookup="catalog_model"):
    """Q: the row's model is fed by a data source whose name holds every word."""
    links = ModelDataSource.objects.filter(
        data_source__in=DataSource.objects.filter(fulltext.every_word_in(q, ["name"])))
    return Q(**{f"{lookup}__in": links.values("catalog_model")})


def named_by_alias_or_tag(q, lookup="pk"):
    """[Q, Q]: the version (at `lookup`) has an alias named by the query; it has a tag whose
    key or value (or key=value) holds every word. Two conditions, not their OR: each is a
    branch of its own in fulltext.matches, which the planner estimates (and indexes) apart."""
    aliases = fulltext.matches(Alias.objects.all(), q, ALIAS_TEXT)
    tags = fulltext.matches(Tag.objects.all(), q, TAG_TEXT)
    return [Q(**{f"{lookup}__in": aliases.values("version")}),
            Q(**{f"{lookup}__in": tags.values("version")})]


def methods_named(q):
    """The deployment methods whose code or label holds every word (`sagemaker`,
    `aws lambda`)."""
    terms = fulltext.words(q)
    return [code for code, label in DeploymentMethod.choices
            if terms and all(term in f"{code} {label}".lower() for term in terms)]


def _holds(text, terms):
    text = (text or "").lower()
    return bool(terms) and all(term in text for term in terms)


def reasons(row, q):
    """What matched the query in a listed row, as (label, value) pairs a person reads:
    ("alias", "champion"), ("namespace", "/abc_corp/claim"). Empty when the row's own name
    or text matched (that is what the row shows already). Reads only what the kind's rows()
    prefetched."""
    terms = fulltext.words(q)
    if not terms:
        return []
    found = []
    if isinstance(row, Deployment):
        model, version = row.catalog_model, row.model_version
        if _holds(row.endpoint, terms):
            return []
        if row.deployment_method in methods_named(q):
            found.append(("method", row.get_deployment_method_display()))
        if _holds(row.environment, terms):
            found.append(("environment", row.environment))
    elif isinstance(row, ModelVersion):
        model, version = row.catalog_model, row
    elif isinstance(row, CatalogModel):
        model, version = row, None
    else:
        return []
    if version is not None:
        found += [("alias", alias.name) for alias in version.aliases.all()
                  if _holds(alias.name, terms)]
        found += [("tag", f"{tag.key}={tag.value}") for tag in version.tags.all()
                  if _holds(f"{tag.key}={tag.value}", terms)]
        if not isinstance(row, CatalogModel) and _holds(model.model_name, terms):
            found.append(("model", model.model_name))
    if _holds(model.namespace.path, terms) and not _holds(model.model_name, terms):
        found.append(("namespace", model.namespace.path))
    found += [("data source", source.name) for source in model.data_sources.all()
              if _holds(source.name, terms)]
    return found


class VersionKind(Kind):
    key, label = "versions", "Versions"
    facets = ("namespace", "status")

    def results(self, q, chosen, since, until):
        after, before = _day_bounds(since, until)
        queryset = access.restrict(
            ModelVersion.objects.select_related("catalog_model__namespace"), self.user)
        queryset = _filtered_or_none(ModelVersionFilterSet(data={
            "within": chosen.get("namespace"), "status": chosen.get("status"),
            "create_at_after": after, "create_at_before": before,
        }, queryset=queryset))
        if queryset is None:
            return None
        if fulltext.words(q):
            queryset = fulltext.matches(queryset, q, VERSION_TEXT, also=[
                named_models(q), in_namespaces(q), fed_by(q), *named_by_alias_or_tag(q)])
        return queryset.order_by("-create_at", "-pk")

    def rows(self, results):
        return results.prefetch_related("aliases", "tags", "deployments",
                                        "catalog_model__data_sources")

    def facet_counts(self, results, chosen):
        return [
            _facet(results, "catalog_model__namespace__path", "namespace", chosen),
            _facet(results, "status", "status", chosen, dict(VersionStatus.choices)),
        ]

    def csv_row(self, version):
        model = version.catalog_model
        return {"namespace": model.namespace.path, "model_name": model.model_name,
                "model_version": version.model_version, "owner": version.created_by,
                "status": version.status, "description": version.description,
                "create_at": version.create_at,
                "link": f"{model.get_absolute_url()}#version-{version.model_version}"}


class DataSourceKind(Kind):
    key, label = "data_sources", "Data sources"
    facets = ("owner", "data_source_type")

    def results(self, q, chosen, since, until):
        after, before = _day_bounds(since, until)
        queryset = access.restrict(DataSource.objects.all(), self.user)
        queryset = _filtered_or_none(DataSourceFilterSet(data={
            "type": chosen.get("data_source_type"), "owner": chosen.get("owner"),
            "create_at_after": after, "create_at_before": before,
        }, queryset=queryset))
        if queryset is None:
            return None
        return fulltext.matches(queryset, q, DATA_SOURCE_TEXT)

    def rows(self, results):
        # A subquery per listed row, rather than counting every source's models.
        links = (ModelDataSource.objects.filter(data_source=OuterRef("pk")).order_by()
                 .values("data_source").annotate(count=Count("pk")).values("count"))
        return results.annotate(
            model_count=Coalesce(Subquery(links), 0)).order_by("name")

    def facet_counts(self, results, chosen):
        return [
            _facet(results, "type", "data_source_type", chosen),
            _facet(results, "owner", "owner", chosen),
        ]

    def csv_row(self, source):
        return {"name": source.name, "type": source.type, "owner": source.owner,
                "description": source.description, "create_at": source.create_at,
                "link": source.get_absolute_url()}


class DeploymentKind(Kind):
    key, label = "deployments", "Deployments"
    facets = ("namespace", "deployment_method", "environment", "status")

    def results(self, q, chosen, since, until):
        after, before = _day_bounds(since, until)
        queryset = access.restrict(Deployment.objects.select_related(
            "catalog_model__namespace", "model_version"), self.user)
        queryset = _filtered_or_none(DeploymentFilterSet(data={
            "within": chosen.get("namespace"), "status": chosen.get("status"),
            "deployment_method": chosen.get("deployment_method"),
            "environment": chosen.get("environment"),
            "create_at_after": after, "create_at_before": before,
        }, queryset=queryset))
        if queryset is None:
            return None
        if fulltext.words(q):
            queryset = fulltext.matches(queryset, q, DEPLOYMENT_TEXT, also=[
                named_models(q), in_namespaces(q), fed_by(q),
                *named_by_alias_or_tag(q, "model_version"),
                Q(deployment_method__in=methods_named(q))])
        return queryset.order_by("-create_at", "-pk")

    def rows(self, results):
        # Each listed deployment's open drift findings, counted in the same query.
        open_findings = (DriftFinding.objects.open().filter(deployment=OuterRef("pk"))
                         .order_by().values("deployment").annotate(n=Count("pk")).values("n"))
        return (results.annotate(open_drift=Subquery(open_findings))
                .prefetch_related("model_version__aliases", "model_version__tags",
                                  "catalog_model__data_sources"))

    def facet_counts(self, results, chosen):
        return [
            _facet(results, "catalog_model__namespace__path", "namespace", chosen),
            _facet(results, "deployment_method", "deployment_method", chosen,
                   dict(DeploymentMethod.choices)),
            _facet(results, "environment", "environment", chosen),
            _facet(results, "status", "status", chosen, dict(DeploymentStatus.choices)),
        ]

    def csv_row(self, deployment):
        model = deployment.catalog_model
        return {"namespace": model.namespace.path, "model_name": model.model_name,
                "model_version": deployment.model_version.model_version,
                "deployment_id": deployment.deployment_id, "endpoint": deployment.endpoint,
                "deployment_method": deployment.deployment_method,
                "status": deployment.status, "description": deployment.environment,
                "create_at": deployment.create_at,
                "link": f"{model.get_absolute_url()}#deployment-{deployment.deployment_id}"}


class EndpointKind(Kind):
    """The endpoints deployments were made at, each once."""

    key, label = "endpoints", "Endpoints"
    facets = ("namespace", "deployment_method", "environment")
    dated = False

    def results(self, q, chosen, since, until):
        deployments = DeploymentKind(self.user).results(q, chosen, None, None)
        if deployments is None:
            return None
        return (deployments.order_by().values("endpoint")
                .annotate(deployments=Count("pk"), last=Max("create_at"),
                          running=Count("pk", filter=Q(active_from__isnull=False,
                                                       active_until__isnull=True)))
                .order_by("endpoint"))

    def csv_row(self, row):
        return {"endpoint": row["endpoint"], "create_at": row["last"],
                "description": f"{row['deployments']} deployments, {row['running']} running",
                "link": endpoint_url(row["endpoint"])}


def endpoint_url(endpoint):
    return reverse("pages:endpoint") + "?" + urlencode({"url": endpoint})


class OwnerKind(Kind):
    """People (emails) who own models or data sources."""

    key, label = "owners", "Owners"
    dated = False

    def results(self, q, chosen, since, until):
        by_owner = {}
        for model, counted, text in ((CatalogModel, "models", MODEL_TEXT),
                                     (DataSource, "data_sources", DATA_SOURCE_TEXT)):
            # Narrowed first by the full-text index that holds the owner among other fields.
            rows = (fulltext.narrow(access.restrict(model.objects.all(), self.user), q, text)
                    .exclude(owner="").filter(fulltext.every_word_in(q, ["owner"])).order_by()
                    .values("owner").annotate(count=Count("pk")))
            for row in rows:
                owner = by_owner.setdefault(row["owner"], {
                    "owner": row["owner"], "models": 0, "data_sources": 0})
                owner[counted] = row["count"]
        return sorted(by_owner.values(), key=lambda row: row["owner"])

    def csv_row(self, row):
        return {"owner": row["owner"],
                "description": f"{row['models']} models, {row['data_sources']} data sources"}


KIND_CLASSES = [ModelKind, VersionKind, DeploymentKind, EndpointKind, DataSourceKind,
                OwnerKind]
KINDS = {kind.key: kind for kind in KIND_CLASSES}
CSV_COLUMNS = ["kind", "namespace", "model_name", "model_version", "deployment_id", "name",
               "type", "owner", "endpoint", "deployment_method", "status", "description",
               "create_at", "link"]


def _first_matches(results):
    """The first COUNT_LIMIT + 1 rows of `results` in their order (primary keys, or the rows
    themselves for a kind whose rows are not model rows): counting every match of a common
    word would read all of them (a million versions), so past the limit the page says
    "1000+", and its rows, pages and facets are those of the first COUNT_LIMIT."""
    if isinstance(results, list):
        return results[:COUNT_LIMIT + 1]
    if results.query.group_by is not None:  # one row per value, such as the endpoints
        return list(results[:COUNT_LIMIT + 1])
    return list(results.values_list("pk", flat=True)[:COUNT_LIMIT + 1])


def _rows_of(results, first):
    """`results` narrowed to `first` (what _first_matches returned): read again by primary
    key, with the joins and the order of `results`, but without matching the words and
    filters again (the rows passed the access rule in `results`)."""
    if isinstance(results, list) or results.query.group_by is not None:
        return first
    rows = results.model._default_manager.filter(pk__in=first)
    if results.query.order_by:  # else the model's own ordering, as in `results`
        rows = rows.order_by(*results.query.order_by)
    rows.query.select_related = results.query.select_related
    return rows


def search(user, form, page_number=1):
    """What the search page shows for a valid SearchForm: the kinds with their counts, the
    chosen kind's page (or every kind's first rows), and the facets."""
    data = form.cleaned_data
    q, chosen = data["q"], form.facets_chosen()
    has_dates = bool(data["since"] or data["until"])
    kinds = [cls(user) for cls in KIND_CLASSES]
    shown = [kind for kind in kinds if kind.supports(chosen, has_dates)]
    groups, facets, page, facets_of_first = [], [], None, False
    for kind in shown:
        if data["kind"] and kind.key != data["kind"]:
            continue
        results = kind.results(q, chosen, data["since"], data["until"])
        if results is None:
            continue
        first = _first_matches(results)
        more = len(first) > COUNT_LIMIT
        first = first[:COUNT_LIMIT]
        count = len(first)
        results = _rows_of(results, first)
        if data["kind"]:
            # Pages up to the counted rows; narrowing the search (or the CSV) reaches more.
            paginator = Paginator(kind.rows(results), PAGE_SIZE)
            paginator.count = count  # counted already
            page = paginator.get_page(page_number)
            groups.append({"kind": kind, "count": count, "more": more, "rows": page})
            facets, facets_of_first = kind.facet_counts(results, chosen), more
        else:
            groups.append({"kind": kind, "count": count, "more": more,
                           "rows": kind.rows(results)[:PREVIEW_SIZE]})
            if kind.key == "models":
                facets, facets_of_first = kind.facet_counts(results, chosen), more
    return {"groups": groups, "facets": facets, "page": page,
            "facets_of_first": facets_of_first and COUNT_LIMIT,
            "kinds": [{"key": kind.key, "label": kind.label} for kind in shown]}


def export_rows(user, form):
    """Every row the search matches (the chosen kind's, or every kind's), as CSV dicts."""
    data = form.cleaned_data
    chosen = form.facets_chosen()
    has_dates = bool(data["since"] or data["until"])
    for cls in KIND_CLASSES:
        kind = cls(user)
        if (data["kind"] and kind.key != data["kind"]) or not kind.supports(chosen, has_dates):
            continue
        results = kind.results(data["q"], chosen, data["since"], data["until"])
        if results is None:
            continue
        if not isinstance(results, list):
            # One query per kind, streamed.
            results = results.iterator(chunk_size=2000)
        for row in results:
            yield {"kind": kind.key, **kind.csv_row(row)}
