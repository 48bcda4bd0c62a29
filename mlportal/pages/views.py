"""The auditors' pages: search, a model, a data source, an endpoint, the change log.

Server-rendered, read-only, login required; every queryset passes through the access rule.
"""

import csv
import json

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from catalog.models import CatalogModel, DataSource
from deployments.choices import RollingStrategy
from deployments.models import CloudAccount, Deployment, DriftFinding
from mlportal import access
from mlportal.choices import ChangeAction
from mlportal.filtersets import ObjectChangeFilterSet
from mlportal.models import ObjectChange
from mlportal.pages import changes, search, timeline
from mlportal.secrets import mask
from registry.models import ModelVersion

CHANGES_PAGE_SIZE = 50
DRIFT_SIZE = 50
HISTORY_SIZE = 10
VERSIONS_PAGE_SIZE = 20


def _auditors_only(user):
    if not access.can_view_audit(user):
        raise PermissionDenied("The change log is for auditors.")


@login_required
def search_page(request):
    form = search.SearchForm(request.GET)
    context = {"form": form, "q": request.GET.get("q", "")}
    if not form.is_valid():
        return render(request, "portal/search.html", context, status=400)
    context |= search.search(request.user, form, request.GET.get("page"))
    context["kind"] = form.cleaned_data["kind"]
    context["last_drift_check"] = CloudAccount.objects.last_check()
    return render(request, "portal/search.html", context)


@login_required
def search_export(request):
    form = search.SearchForm(request.GET)
    if not form.is_valid():
        return render(request, "portal/search.html", {"form": form}, status=400)
    rows = (
        [row.get(column, "") if column != "link" or not row.get("link")
         else request.build_absolute_uri(row["link"]) for column in search.CSV_COLUMNS]
        for row in search.export_rows(request.user, form)
    )
    return _csv_response("search", search.CSV_COLUMNS, rows)


def _changes_of(model):
    """The recorded changes of a catalog model and of what hangs from it (versions,
    artifacts, aliases, tags, deployments and their variables), newest first."""
    return ObjectChange.objects.select_related("content_type").history_of(model)


def _timeline(request, deployments, lane):
    """The timeline of `deployments` that served their endpoint, one lane per `lane(d)`, a
    colour per version number (named by its number alone when all are of one model), over
    the range the page asks for (`?range=`: recent, 30d, 1y, all)."""
    one_model = len({deployment.catalog_model_id for deployment in deployments}) <= 1
    range_key = request.GET.get("range", timeline.DEFAULT_RANGE)
    if range_key not in timeline.RANGES:
        range_key = timeline.DEFAULT_RANGE
    now = timezone.now()
    bars = [
        timeline.Bar(
            lane=lane(deployment), start=deployment.active_from, end=deployment.active_until,
            label=(f"v{deployment.model_version.model_version}" if one_model else
                   deployment.model_version.label),
            colour_key=(f"v{deployment.model_version.model_version}" if one_model else
                        deployment.model_version.label),
            number=deployment.model_version.model_version,
            title=(f"{deployment.model_version.label}, deployment {deployment.deployment_id} "
                   f"at {deployment.endpoint} "
                   f"({deployment.get_deployment_method_display()}, "
                   f"{deployment.get_rolling_strategy_display()}"
                   + (f" {deployment.traffic_percent}%" if deployment.traffic_percent else "")
                   + f"), {deployment.get_status_display()}: "
                   + f"{deployment.active_from:%Y-%m-%d %H:%M} to "
                   + (f"{deployment.active_until:%Y-%m-%d %H:%M}" if deployment.active_until
                      else "now")),
            details={"deployment_id": deployment.deployment_id,
                     "status": deployment.get_status_display(),
                     "version": deployment.model_version.label,
                     "anchor": f"deployment-{deployment.deployment_id}",
                     "model_url": deployment.catalog_model.get_absolute_url()},
        )
        for deployment in deployments if deployment.active_from is not None
    ]
    since, until = timeline.window(bars, range_key, now)
    drawn = timeline.layout(bars, now=now, since=since, until=until)
    return {"drawn": drawn, "range": range_key,
            "ranges": [(key, label) for key, (label, _) in timeline.RANGES.items()]}


def _serving_now(deployments):
    """What serves each endpoint now, and since when: [(endpoint, [deployment])]."""
    serving = {}
    for deployment in deployments:
        if deployment.active_from is not None and deployment.active_until is None:
            serving.setdefault(deployment.endpoint, []).append(deployment)
    return sorted(serving.items())


def _drift(request, deployments):
    """The drift findings of `deployments` (open ones first, then the latest resolved) and
    when a drift check last read where they run."""
    findings = access.restrict(
        DriftFinding.objects.filter(deployment__in=[d.pk for d in deployments])
        .select_related("deployment__catalog_model__namespace", "deployment__model_version",
                        "found_version"),
        request.user,
    ).order_by(F("resolved_at").desc(nulls_first=True), "-opened_at", "-pk")
    findings = list(findings[:DRIFT_SIZE])
    return {
        "drift": findings,
        "open_drift": sum(1 for finding in findings if finding.is_open),
        "last_drift_check": CloudAccount.objects.last_check(
            [d for d in deployments if d.resource]) if any(d.resource for d in deployments)
        else None,
        "drift_checked": any(d.resource for d in deployments),
    }


def _endpoint_lane(deployment):
    canary = deployment.rolling_strategy == RollingStrategy.CANARY
    return deployment.endpoint + (" (canary)" if canary else "")


def _strategy_lane(deployment):
    return "canary" if deployment.rolling_strategy == RollingStrategy.CANARY else "rollouts"


@login_required
def model_page(request, key):
    model = _model_by_key(request, key)
    versions = access.restrict(
        ModelVersion.objects.filter(catalog_model=model).prefetch_related(
            "artifacts", "tags", "aliases", "deployments"),
        request.user,
    )
    deployments = list(access.restrict(
        Deployment.objects.filter(catalog_model=model).select_related(
            "catalog_model__namespace", "model_version__catalog_model", "replaced_by"),
        request.user,
    ).order_by("create_at", "pk"))
    context = {
        "model": model,
        "input_schema": json.dumps(model.inference_input_schema, indent=2),
        "output_schema": json.dumps(model.inference_output_schema, indent=2),
        "versions": Paginator(versions.order_by("-model_version"), VERSIONS_PAGE_SIZE)
        .get_page(request.GET.get("versions_page")),
        "deployments": deployments,
        "timeline": _timeline(request, deployments, _endpoint_lane),
        "serving_now": _serving_now(deployments),
        "can_view_audit": access.can_view_audit(request.user),
        **_drift(request, deployments),
    }
    if context["can_view_audit"]:
        history = Paginator(_changes_of(model), HISTORY_SIZE).get_page(
            request.GET.get("history_page"))
        history.object_list = changes.describe(history.object_list)
        context["history"] = history
    return render(request, "portal/model.html", context)


def _model_by_key(request, key):
    """The catalog model at `key` (`abc_corp/claim/doc_classification`, or with a leading
    slash), among those the user may see; 404 otherwise."""
    namespace_path, _, model_name = f"/{key.strip('/')}".rpartition("/")
    models = access.restrict(
        CatalogModel.objects.select_related("namespace").prefetch_related("data_sources"),
        request.user,
    )
    return get_object_or_404(models, namespace__path=namespace_path, model_name=model_name)


@login_required
def data_source_page(request, name):
    source = get_object_or_404(access.restrict(DataSource.objects.all(), request.user),
                               name=name)
    models = access.restrict(source.models.select_related("namespace"), request.user)
    running = access.restrict(
        Deployment.objects.active().filter(catalog_model__data_sources=source)
        .select_related("catalog_model__namespace", "model_version"),
        request.user,
    ).order_by("endpoint", "pk")
    return render(request, "portal/data_source.html", {
        "source": source,
        "connection": json.dumps(mask(source.connection), indent=2),
        "models": models,
        "running": running,
    })


@login_required
def endpoint_page(request):
    url = request.GET.get("url", "").strip()
    if not url:
        return render(request, "portal/endpoint.html", {
            "error": "Name the endpoint: /endpoints/?url=https://..."}, status=400)
    deployments = list(access.restrict(
        Deployment.objects.filter(endpoint=url)
        .select_related("catalog_model__namespace", "model_version__catalog_model", "replaced_by")
        .prefetch_related("status_history"),
        request.user,
    ).order_by("create_at", "pk"))
    if not deployments:
        raise Http404("No deployment was ever made at this endpoint.")
    return render(request, "portal/endpoint.html", {
        "endpoint": url,
        "deployments": deployments,
        "timeline": _timeline(request, deployments, _strategy_lane),
        "serving_now": _serving_now(deployments),
        **_drift(request, deployments),
    })


def _filtered_changes(request):
    filterset = ObjectChangeFilterSet(
        request.GET, queryset=ObjectChange.objects.select_related("content_type"))
    # The API's filters, with the widgets a person uses: object types by their names, dates
    # from a date picker (the filters take a date, or a date and time).
    form = filterset.form
    form.fields["object_type"].widget = forms.Select(
        choices=[("", "any"), *changes.object_type_choices()])
    form.fields["object_type"].label = "Object type"
    form.fields["action"].widget.choices = [("", "any"), *ChangeAction.choices]
    for name in ("since", "until"):
        form.fields[name].widget = forms.DateInput(attrs={"type": "date"})
    form.fields["since"].label, form.fields["until"].label = "From (UTC)", "To (UTC)"
    form.fields["namespace"].label = "Namespace and below"
    form.fields["request_id"].widget = forms.HiddenInput()
    return filterset, (filterset.qs if filterset.is_valid() else ObjectChange.objects.none())


@login_required
def change_log(request):
    _auditors_only(request.user)
    filterset, found = _filtered_changes(request)
    page = Paginator(found, CHANGES_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = changes.describe(page.object_list)
    return render(request, "portal/changes.html", {
        "filterset": filterset,
        "page": page,
    }, status=200 if filterset.is_valid() else 400)


CHANGE_COLUMNS = ["time", "user", "principal", "source", "request_id", "action", "object_type",
                  "object_id", "object", "namespace", "before", "after"]


@login_required
def change_log_export(request):
    _auditors_only(request.user)
    filterset, found = _filtered_changes(request)
    if not filterset.is_valid():
        return render(request, "portal/changes.html", {"filterset": filterset}, status=400)
    rows = (
        [change.time, change.user_name, change.principal, change.source, change.request_id,
         change.action, change.object_type, change.object_id, change.object_repr,
         change.namespace,
         # Masked when recorded; masked again in case a model's audit_data missed a key.
         json.dumps(mask(change.prechange_data)), json.dumps(mask(change.postchange_data))]
        for change in found.iterator(chunk_size=2000)
    )
    return _csv_response("changes", CHANGE_COLUMNS, rows)


class _Echo:
    def write(self, value):
        return value


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_response(name, columns, rows):
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(columns)
        for row in rows:
            yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response
