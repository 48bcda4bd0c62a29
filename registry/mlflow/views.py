"""MLflow's model-registry endpoints (mlflow/protos/model_registry.proto, ModelRegistryService)
on the portal's catalog and registry. Every row is read through the access rule
(mlportal.access.restrict) and written through the catalog and registry services, in the
request's audit context, so the audit trail, the pages and the portal's API see it alike."""

import base64
import binascii
import json
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import services as catalog_services
from catalog.models import CatalogModel
from mlportal import access
from mlportal.api.parsers import JSONParser
from mlportal.tokens import TokenAuthentication
from registry import services
from registry.choices import VersionStatus
from registry.mlflow import documents, errors, filters, names
from registry.mlflow.auth import ThrottledBasicAuthentication
from registry.mlflow.errors import MlflowError, invalid, not_found
from registry.models import Alias, ModelTag, ModelVersion

MODELS_MAX_RESULTS_DEFAULT, MODELS_MAX_RESULTS_THRESHOLD = 100, 1000
VERSIONS_MAX_RESULTS_DEFAULT, VERSIONS_MAX_RESULTS_THRESHOLD = 10_000, 200_000
MAX_OFFSET = 2**53  # far beyond any page; what every database's OFFSET takes


def _text_error(data):
    """The first string in `data` (parsed JSON) that is not valid Unicode text (a lone
    surrogate such as "\\ud800", which no database stores), or None."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return item
    return None


class SignedIn(BasePermission):
    """Signed-in users read; a read-only token does not write. Which namespace a write needs
    is checked on the rows by mlportal.access."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated(
                "Sign in: set MLFLOW_TRACKING_TOKEN to a portal token, or "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.")
        if view.writes(request) and getattr(request.auth, "read_only", False):
            raise exceptions.PermissionDenied("This token is read-only.")
        return True


class MlflowView(APIView):
    """One endpoint: `handlers` maps the HTTP method to a method of the view."""

    authentication_classes = [TokenAuthentication, ThrottledBasicAuthentication]
    permission_classes = [SignedIn]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    handlers = {}
    reads = ("GET",)
    schema = None

    def writes(self, request):
        return request.method not in self.reads

    def get_exception_handler(self):
        return errors.exception_handler

    def dispatch(self, request, *args, **kwargs):
        handler = self.handlers.get(request.method.upper())
        if handler is not None:
            setattr(self, request.method.lower(), self._call(handler))
        return super().dispatch(request, *args, **kwargs)

    def _call(self, handler):
        def run(request, *args, **kwargs):
            self.params = self._params(request)
            result = getattr(self, handler)(request)
            return Response(result if result is not None else {})
        return run

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise MlflowError(errors.ENDPOINT_NOT_FOUND,
                          f"No {request.method} handler for {request.path}.")

    @staticmethod
    def _params(request):
        if request.method == "GET":
            return request.query_params
        data = request.data
        if not isinstance(data, dict):
            raise invalid("The request body is a JSON object.")
        bad = _text_error(data)
        if bad is not None:
            raise invalid(f"Invalid text {bad[:100]!r} in the request body: a lone surrogate "
                          "(\\ud800-\\udfff) is not a character.")
        return data

    # Parameters, read as MLflow's server reads them.

    def param(self, name, *, required=True, default=""):
        value = self.params.get(name)
        if value is None or value == "":
            if required:
                raise invalid(f"Missing value for required parameter '{name}'.")
            return default
        if not isinstance(value, str):
            raise invalid(f"Invalid value {value!r} for parameter '{name}': expected a string.")
        return value

    def param_list(self, name):
        if hasattr(self.params, "getlist"):
            values = self.params.getlist(name)
        else:
            values = self.params.get(name) or []
            if not isinstance(values, list):
                raise invalid(f"Invalid value for parameter '{name}': expected a list.")
        if not all(isinstance(value, str) for value in values):
            raise invalid(f"Invalid value for parameter '{name}': expected strings.")
        return values

    def param_bool(self, name):
        value = self.params.get(name, False)
        if isinstance(value, str):
            if value.lower() not in ("true", "false", ""):
                raise invalid(f"Invalid value {value!r} for parameter '{name}': true or false.")
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise invalid(f"Invalid value {value!r} for parameter '{name}': true or false.")
        return value

    def param_tags(self, name="tags"):
        tags = self.params.get(name) or []
        if not isinstance(tags, list) or not all(
            isinstance(tag, dict) and isinstance(tag.get("key"), str)
            and isinstance(tag.get("value", ""), str) for tag in tags
        ):
            raise invalid(f"Invalid value for parameter '{name}': a list of "
                          '{"key": ..., "value": ...}.')
        return {tag["key"]: tag.get("value", "") for tag in tags}

    def param_version(self):
        value = self.param("version")
        if (not (value.isascii() and value.isdigit()) or len(value) > 10
                or not 1 <= int(value) <= filters.MAX_NUMBER):
            raise invalid(f"Invalid value '{value}' for parameter 'version': a version number "
                          "such as 1.")
        return int(value)

    def max_results(self, default, threshold):
        value = self.params.get("max_results")
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise invalid(f"Invalid value {value!r} for parameter 'max_results': a whole "
                          "number.") from None
        if not 1 <= number <= threshold:
            raise invalid(f"Invalid value {number} for parameter 'max_results': it must be "
                          f"between 1 and {threshold}.")
        return number

    def offset(self):
        token = self.params.get("page_token") or ""
        if not token:
            return 0
        try:
            offset = json.loads(base64.b64decode(token, validate=True))["offset"]
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise invalid(f"Invalid page token {token!r}: pass the next_page_token of the "
                          "previous page.") from None
        if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise invalid(f"Invalid page token {token!r}.")
        return offset

    @staticmethod
    def page_token(offset):
        return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()

    # Rows, through the access rule.

    def models(self):
        return access.restrict(documents.models_queryset(), self.request.user, "view")

    def versions(self):
        return access.restrict(documents.versions_queryset(), self.request.user, "view")

    def find_model(self, *, full=False):
        """The catalog model the `name` parameter names; `full`: with what its document
        shows (for an answer that changes nothing)."""
        name = self.param("name")
        rows = self.models() if full else access.restrict(
            CatalogModel.objects.select_related("namespace"), self.request.user, "view")
        found = list(rows.filter(names.lookup_q(name)))
        if not found:
            raise not_found(f"Registered Model with name={name} not found")
        order = names.candidates(name)
        return min(found, key=lambda row: order.index((row.namespace.path, row.model_name)))

    def find_version(self, *, full=False):
        name, number = self.param("name"), self.param_version()
        rows = self.versions() if full else access.restrict(
            ModelVersion.objects.select_related("catalog_model__namespace"),
            self.request.user, "view")
        found = list(rows.filter(names.lookup_q(name, "catalog_model__"), model_version=number))
        if not found:
            raise not_found(f"Model Version (name={name}, version={number}) not found")
        order = names.candidates(name)
        return min(found, key=lambda row: order.index(
            (row.catalog_model.namespace.path, row.catalog_model.model_name)))

    def require(self, action, obj):
        access.require(self.request.user, action, obj)

    def visible(self, queryset):
        """`queryset` under the access rule (every signed-in user reads the registry)."""
        return access.restrict(queryset, self.request.user, "view")

    def model_response(self, catalog_model, *, fetched=False):
        if not fetched:
            catalog_model = self.models().get(pk=catalog_model.pk)
        latest = documents.latest_versions([catalog_model]).get(catalog_model.pk, [])
        return {"registered_model": documents.model_document(catalog_model, latest)}

    def version_response(self, version, *, fetched=False):
        if not fetched:
            version = self.versions().get(pk=version.pk)
        return {"model_version": documents.version_document(version)}


def _source_errors(exc):
    """The link rules' refusal of a version's artifacts, said of MLflow's `source`."""
    messages = exc.message_dict if hasattr(exc, "error_dict") else {"source": exc.messages}
    parts = []
    for field, items in messages.items():
        for message in items:
            if field == "artifacts":
                message = message.removeprefix(f"{filters.SOURCE_ARTIFACT}: ")
                field = "source"
            parts.append(f"{field}: {message}")
    return invalid(f"Invalid model version: {' '.join(parts)}")


def _dependents(version):
    """What other apps keep pointing at `version` (deployments, ...), found through its
    reverse relations, so that the registry does not import them: ["2 deployments", ...]."""
    found = []
    for relation in ModelVersion._meta.related_objects:
        related = relation.related_model
        if related._meta.app_label == ModelVersion._meta.app_label or relation.many_to_many:
            continue
        count = related._base_manager.filter(**{relation.field.name: version}).count()
        if count:
            noun = (related._meta.verbose_name if count == 1
                    else related._meta.verbose_name_plural)
            found.append(f"{count} {noun}")
    return found


def _already_exists(name):
    return MlflowError(errors.RESOURCE_ALREADY_EXISTS,
                       f"Registered Model (name={name}) already exists.")


@contextmanager
def _taken_meanwhile(name):
    """A name taken by a concurrent request after the check (the catalog's own check, or the
    unique index) is MLflow's RESOURCE_ALREADY_EXISTS too."""
    try:
        yield
    except IntegrityError as exc:
        raise _already_exists(name) from exc
    except ValidationError as exc:
        if errors.is_uniqueness(exc):
            raise _already_exists(name) from exc
        raise


# Registered models


class CreateRegisteredModel(MlflowView):
    handlers = {"POST": "create"}

    @transaction.atomic
    def create(self, request):
        name = self.param("name")
        path, model_name = names.parse(name)
        if self.params.get("deployment_job_id"):
            raise invalid("deployment_job_id is Databricks' and has no place in the portal.")
        access.require_target(request.user, CatalogModel, {"namespace": path})
        tags = self.param_tags()
        if self.visible(CatalogModel.objects.filter(names.lookup_q(name))).exists():
            raise _already_exists(name)
        with _taken_meanwhile(name):
            catalog_model = catalog_services.save_catalog_model(
                namespace=path, model_name=model_name,
                description=self.param("description", required=False),
                owner=request.user.email or "",
            )
        for key, value in tags.items():
            services.set_model_tag(catalog_model=catalog_model, key=key, value=value)
        return self.model_response(catalog_model)


class GetRegisteredModel(MlflowView):
    def get_model(self, request):
        return self.model_response(self.find_model(full=True), fetched=True)

    handlers = {"GET": "get_model"}


class UpdateRegisteredModel(MlflowView):
    handlers = {"PATCH": "update", "POST": "update"}

    @transaction.atomic
    def update(self, request):
        catalog_model = self.find_model()
        self.require("change", catalog_model)
        if "description" in self.params:
            description = self.param("description", required=False)
            catalog_model = catalog_services.save_catalog_model(
                instance=catalog_model, description=description)
        return self.model_response(catalog_model)


class RenameRegisteredModel(MlflowView):
    handlers = {"POST": "rename"}

    @transaction.atomic
    def rename(self, request):
        catalog_model = self.find_model()
        self.require("change", catalog_model)
        new_name = self.param("new_name")
        path, model_name = names.parse(new_name, "new_name")
        access.require_target(request.user, CatalogModel, {"namespace": path})
        clash = self.visible(CatalogModel.objects.filter(names.lookup_q(new_name))).exclude(
            pk=catalog_model.pk)
        if clash.exists():
            raise _already_exists(new_name)
        with _taken_meanwhile(new_name):
            catalog_model = catalog_services.save_catalog_model(
                instance=catalog_model, namespace=path, model_name=model_name)
        return self.model_response(catalog_model)


class DeleteRegisteredModel(MlflowView):
    handlers = {"DELETE": "delete_model", "POST": "delete_model"}

    @transaction.atomic
    def delete_model(self, request):
        catalog_model = self.find_model()
        self.require("delete", catalog_model)
        numbers = list(self.visible(ModelVersion.objects.filter(catalog_model=catalog_model))
                       .order_by("model_version").values_list("model_version", flat=True))
        if numbers:
            raise MlflowError(errors.RESOURCE_CONFLICT, (
                f"Registered Model {self.param('name')} has versions "
                f"({', '.join(map(str, numbers))}) and the portal never deletes a version, so "
                "it does not delete the model either; archive the versions instead "
                "(transition-stage to Archived, the portal's deprecated)."))
        try:
            catalog_model.delete()
        except models.ProtectedError as exc:
            blockers = sorted({str(row) for row in list(exc.protected_objects)[:5]})
            raise MlflowError(errors.RESOURCE_CONFLICT, (
                f"Registered Model {self.param('name')} cannot be deleted: other records "
                f"depend on it ({', '.join(blockers)}).")) from exc
        return {}


class SearchRegisteredModels(MlflowView):
    handlers = {"GET": "search", "POST": "search"}
    reads = ("GET", "POST")

    def search(self, request):
        comparisons = filters.parse_filter(self.param("filter", required=False))
        condition = filters.model_conditions(comparisons)
        ordering = filters.order_by(
            self.param_list("order_by"), filters.MODEL_ORDER, [("mlflow_name", True)])
        limit = self.max_results(MODELS_MAX_RESULTS_DEFAULT, MODELS_MAX_RESULTS_THRESHOLD)
        offset = self.offset()
        rows = access.restrict(CatalogModel.objects.all(), request.user, "view")
        ids = list(rows.filter(condition).order_by(*ordering)
                   .values_list("pk", flat=True)[offset:offset + limit + 1])
        page = ids[:limit]
        found = self.models().in_bulk(page)
        catalog_models = [found[pk] for pk in page if pk in found]
        latest = documents.latest_versions(catalog_models)
        result = {"registered_models": [
            documents.model_document(row, latest.get(row.pk, [])) for row in catalog_models]}
        if len(ids) > limit:
            result["next_page_token"] = self.page_token(offset + limit)
        return result


def _stages(values):
    stages = []
    for value in values:
        canonical = next((stage for stage in documents.STAGES
                          if stage.lower() == value.strip().lower()), None)
        if canonical is None:
            raise invalid(f"Invalid Model Version stage: {value}. Value must be one of "
                          f"{', '.join(documents.STAGES)}.")
        stages.append(canonical)
    return stages


class GetLatestVersions(MlflowView):
    handlers = {"GET": "latest", "POST": "latest"}
    reads = ("GET", "POST")

    def latest(self, request):
        catalog_model = self.find_model()
        stages = _stages(self.param_list("stages")) or None
        latest = documents.latest_versions([catalog_model], stages).get(catalog_model.pk, [])
        return {"model_versions": [documents.version_document(version) for version in latest]}


class SetRegisteredModelTag(MlflowView):
    handlers = {"POST": "set_tag"}

    @transaction.atomic
    def set_tag(self, request):
        catalog_model = self.find_model()
        self.require("change", catalog_model)
        key = self.param("key")
        value = self.params.get("value") or ""
        if not isinstance(value, str):
            raise invalid("Invalid value for parameter 'value': a string.")
        services.set_model_tag(catalog_model=catalog_model, key=key, value=value)
        return {}


class DeleteRegisteredModelTag(MlflowView):
    handlers = {"DELETE": "delete_tag", "POST": "delete_tag"}

    @transaction.atomic
    def delete_tag(self, request):
        catalog_model = self.find_model()
        self.require("change", catalog_model)
        tag = self.visible(ModelTag.objects.filter(catalog_model=catalog_model,
                                                   key=self.param("key"))).first()
        if tag is not None:
            services.remove_model_tag(tag=tag)
        return {}


class RegisteredModelAlias(MlflowView):
    handlers = {"POST": "set_alias", "DELETE": "delete_alias", "GET": "get_by_alias"}

    @transaction.atomic
    def set_alias(self, request):
        version = self.find_version()
        name = self.param("alias")
        existing = self.visible(Alias.objects.filter(catalog_model=version.catalog_model,
                                                     name=name)).first()
        self.require("change", existing or Alias(catalog_model=version.catalog_model))
        services.set_alias(version=version, name=name)
        return {}

    @transaction.atomic
    def delete_alias(self, request):
        catalog_model = self.find_model()
        alias = self.visible(Alias.objects.filter(catalog_model=catalog_model,
                                                  name=self.param("alias"))).first()
        self.require("delete", alias or Alias(catalog_model=catalog_model))
        if alias is not None:
            services.remove_alias(alias=alias)
        return {}

    def get_by_alias(self, request):
        catalog_model = self.find_model()
        name = self.param("alias")
        alias = self.visible(Alias.objects.filter(catalog_model=catalog_model, name=name)).first()
        if alias is None:
            raise not_found(f"Registered model alias {name} not found.")
        return self.version_response(alias.version)


# Model versions


class CreateModelVersion(MlflowView):
    handlers = {"POST": "create"}

    def create(self, request):
        catalog_model = self.find_model()
        source = self.param("source")
        if self.params.get("model_id"):
            raise invalid("The portal keeps no logged models: register the model's artifact "
                          "URI (s3://...) as the source, without model_id.")
        tags = self.param_tags()
        for key, parameter in ((filters.RUN_ID_TAG, "run_id"),
                               (filters.RUN_LINK_TAG, "run_link")):
            value = self.param(parameter, required=False)
            if value:
                tags[key] = value
        access.require_target(request.user, ModelVersion, {"catalog_model": catalog_model})
        try:
            # register_version locks the model's row until its transaction commits.
            version = services.register_version(
                namespace=catalog_model.namespace.path, model_name=catalog_model.model_name,
                description=self.param("description", required=False),
                artifacts=[{"name": filters.SOURCE_ARTIFACT, "uri": source}],
                tags=tags, user=request.user,
            )
        except ValidationError as exc:
            raise _source_errors(exc) from exc
        return self.version_response(version)


class GetModelVersion(MlflowView):
    handlers = {"GET": "get_version"}

    def get_version(self, request):
        return self.version_response(self.find_version(full=True), fetched=True)


class UpdateModelVersion(MlflowView):
    handlers = {"PATCH": "update", "POST": "update"}

    @transaction.atomic
    def update(self, request):
        version = self.find_version()
        self.require("change", version)
        if "description" in self.params:
            services.update_version(version=version,
                                    description=self.param("description", required=False))
        return self.version_response(version)


class DeleteModelVersion(MlflowView):
    handlers = {"DELETE": "delete_version", "POST": "delete_version"}

    def delete_version(self, request):
        version = self.find_version()
        self.require("delete", version)
        dependents = _dependents(version)
        why = (f" It is in use: {', '.join(dependents)} point at it, and a deployed version "
               "is never deleted." if dependents else "")
        raise MlflowError(errors.RESOURCE_CONFLICT, (
            f"Model Version (name={self.param('name')}, version={version.model_version}) is not "
            "deleted: the portal never deletes a version, so that what ran stays on record."
            f"{why} Archive it instead (transition-stage to Archived, the portal's deprecated)."))


class SearchModelVersions(MlflowView):
    handlers = {"GET": "search", "POST": "search"}
    reads = ("GET", "POST")

    def search(self, request):
        comparisons = filters.parse_filter(self.param("filter", required=False))
        condition = filters.version_conditions(comparisons)
        ordering = filters.order_by(
            self.param_list("order_by"), filters.VERSION_ORDER,
            [("catalog_model__mlflow_name", True), ("model_version", False)])
        limit = self.max_results(VERSIONS_MAX_RESULTS_DEFAULT, VERSIONS_MAX_RESULTS_THRESHOLD)
        offset = self.offset()
        rows = access.restrict(ModelVersion.objects.all(), request.user, "view")
        ids = list(rows.filter(condition).order_by(*ordering)
                   .values_list("pk", flat=True)[offset:offset + limit + 1])
        page = ids[:limit]
        found = self.versions().in_bulk(page)
        result = {"model_versions": [documents.version_document(found[pk])
                                     for pk in page if pk in found]}
        if len(ids) > limit:
            result["next_page_token"] = self.page_token(offset + limit)
        return result


class GetModelVersionDownloadUri(MlflowView):
    handlers = {"GET": "download_uri"}

    def download_uri(self, request):
        version = self.find_version(full=True)
        source = documents.version_document(version)["source"]
        if not source:
            names_ = sorted(artifact.name for artifact in version.artifacts.all())
            raise not_found(
                f"Model Version (name={self.param('name')}, version={version.model_version}) "
                f"has no artifact named {filters.SOURCE_ARTIFACT} (its artifacts: "
                f"{', '.join(names_) or 'none'}).")
        return {"artifact_uri": source}


class SetModelVersionTag(MlflowView):
    handlers = {"POST": "set_tag"}

    @transaction.atomic
    def set_tag(self, request):
        version = self.find_version()
        self.require("change", version)
        key = self.param("key")
        value = self.params.get("value") or ""
        if not isinstance(value, str):
            raise invalid("Invalid value for parameter 'value': a string.")
        tags = {tag.key: tag.value for tag in version.tags.all()}
        tags[key] = value
        services.set_tags(version=version, tags=tags)
        return {}


class DeleteModelVersionTag(MlflowView):
    handlers = {"DELETE": "delete_tag", "POST": "delete_tag"}

    @transaction.atomic
    def delete_tag(self, request):
        version = self.find_version()
        self.require("change", version)
        tags = {tag.key: tag.value for tag in version.tags.all()}
        if tags.pop(self.param("key"), None) is not None:
            services.set_tags(version=version, tags=tags)
        return {}


class TransitionModelVersionStage(MlflowView):
    handlers = {"POST": "transition"}

    @transaction.atomic
    def transition(self, request):
        version = self.find_version()
        (stage,) = _stages([self.param("stage")])
        if stage in (documents.STAGE_STAGING, documents.STAGE_PRODUCTION):
            raise invalid(
                f"The portal has no {stage} stage: point an alias at the version instead "
                "(set_registered_model_alias, e.g. 'champion'). Its stages are None (in use) "
                "and Archived (deprecated).")
        if self.param_bool("archive_existing_versions"):
            raise invalid("archive_existing_versions applies to Staging and Production only.")
        self.require("change", version)
        status = VersionStatus.DEPRECATED if stage == documents.STAGE_ARCHIVED else (
            VersionStatus.READY)
        services.update_version(version=version, status=status)
        return self.version_response(version)


# What the client may call around the registry


class NoRuns(MlflowView):
    """The portal keeps no runs or experiments: `runs:/` sources are refused like any link
    the link rules refuse."""

    handlers = {"GET": "refuse", "POST": "refuse"}
    reads = ("GET", "POST")

    def refuse(self, request):
        raise invalid(
            "The portal is a model registry and keeps no runs or experiments, so runs:/ and "
            "models:/<id> sources cannot be resolved: register the model's artifact URI "
            "(s3://bucket/key, gs://..., https://...) instead.")


class UnknownEndpoint(MlflowView):
    handlers = {method: "unknown" for method in ("GET", "POST", "PATCH", "DELETE", "PUT")}
    reads = tuple(handlers)

    def unknown(self, request):
        raise MlflowError(errors.ENDPOINT_NOT_FOUND,
                          f"The portal does not serve {request.path}.")

