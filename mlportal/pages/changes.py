"""The change log as people read it: readable labels for codes, the numbers people know
instead of internal ids, and a link to each object's page. The audit records stay as they
were recorded; only their display changes here."""

import json
import re

from django.urls import reverse

from catalog.models import CatalogModel, DataSource
from deployments.choices import DeploymentMethod, DeploymentStatus, RollingStrategy
from deployments.models import Deployment
from mlportal.filtersets import audited_models
from mlportal.pages.search import endpoint_url
from registry.choices import VersionStatus

EMPTY = ("", None, {}, [])

# A field's codes -> their labels, by the field's name in the recorded documents.
CODE_LABELS = {
    "status": {**dict(VersionStatus.choices), **dict(DeploymentStatus.choices)},
    "deployment_method": dict(DeploymentMethod.choices),
    "rolling_strategy": dict(RollingStrategy.choices),
}
FIELD_LABELS = {
    "replaced_by": "replaced by", "deployment_method": "method",
    "rolling_strategy": "rolling strategy", "traffic_percent": "traffic %",
    "active_from": "active from", "active_until": "active until", "create_at": "created",
    "created_by": "created by", "registered_by": "registered by", "model_version": "version",
    "deployment_id": "deployment", "model_name": "model", "inference": "inference",
}
# Fields that record another row's internal id -> how to name that row.
ID_FIELDS = {"replaced_by": Deployment}


def _show(value, limit=120):
    if isinstance(value, str):
        text = value
    elif value is None:
        text = "—"
    else:
        text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _names_of_ids(changes):
    """{(model, id): "deployment 4"} for the ids the listed changes record, in one query
    per kind of row."""
    wanted = {}
    for change in changes:
        for data in (change.prechange_data, change.postchange_data):
            if isinstance(data, dict):
                for field, model in ID_FIELDS.items():
                    if data.get(field) is not None:
                        wanted.setdefault(model, set()).add(data[field])
    names = {}
    for model, ids in wanted.items():
        for row in model.objects.filter(pk__in=ids).only("pk", "deployment_id"):
            names[model, row.pk] = f"deployment {row.deployment_id}"
    return names


ISO_MOMENT = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?(Z|[+-]00:?00)?$")


def _value(field, value, names):
    if isinstance(value, str) and ISO_MOMENT.match(value):
        date, time = ISO_MOMENT.match(value).group(1, 2)
        return f"{date} {time}"
    if field in ID_FIELDS and value is not None:
        return names.get((ID_FIELDS[field], value), f"#{value}")
    if field in CODE_LABELS and isinstance(value, str):
        return CODE_LABELS[field].get(value, value)
    return _show(value)


def _link(change):
    """The page of the changed object (its model's page for what hangs from a model)."""
    data = change.postchange_data or change.prechange_data or {}
    model_class = change.content_type.model_class() if change.content_type_id else None
    if model_class is DataSource and isinstance(data, dict) and data.get("name"):
        return reverse("pages:data-source", args=[data["name"]])
    if model_class is Deployment and isinstance(data, dict) and data.get("endpoint"):
        return endpoint_url(data["endpoint"])
    namespace, name = None, None
    if isinstance(data, dict) and data.get("namespace") and data.get("model_name"):
        namespace, name = data["namespace"], data["model_name"]
    elif isinstance(data, dict) and isinstance(data.get("model"), str) and "/" in data["model"]:
        namespace, _, name = data["model"].rpartition("/")
    elif isinstance(data, dict) and isinstance(data.get("version"), str):
        model, _, _ = data["version"].rpartition(" v")
        namespace, _, name = model.rpartition("/")
    if not name:
        return None
    url = reverse("pages:model", args=[f"{namespace.lstrip('/')}/{name}"])
    if model_class is not CatalogModel and isinstance(data, dict):
        if data.get("model_version") and model_class is not Deployment:
            url += f"#version-{data['model_version']}"
    return url


def describe(changes):
    """The listed changes, each with `.diff` [(label, before, after)] in words, `.link`
    and `.type_label`, ready for portal/change_rows.html."""
    changes = list(changes)
    names = _names_of_ids(changes)
    for change in changes:
        before = change.prechange_data if isinstance(change.prechange_data, dict) else {}
        after = change.postchange_data if isinstance(change.postchange_data, dict) else {}
        change.diff = [
            (FIELD_LABELS.get(field, field.replace("_", " ")),
             _value(field, before.get(field), names), _value(field, after.get(field), names))
            for field in sorted(set(before) | set(after))
            if before.get(field) != after.get(field)
            and (change.prechange_data is not None or after.get(field) not in EMPTY)
        ]
        model_class = change.content_type.model_class() if change.content_type_id else None
        change.type_label = (str(model_class._meta.verbose_name) if model_class
                             else change.object_type)
        change.link = _link(change)
    return changes


def object_type_choices():
    """The object types people filter by: ("catalog.catalogmodel", "catalog model")."""
    return sorted(((model._meta.label_lower, str(model._meta.verbose_name))
                   for model in audited_models()), key=lambda choice: choice[1])

