"""Portal rows as MLflow's JSON messages (mlflow/protos/model_registry.proto): RegisteredModel,
ModelVersion, their tags and aliases. Timestamps are milliseconds since the epoch."""

from django.db.models import OuterRef, Prefetch, Subquery

from catalog.models import CatalogModel
from registry.choices import VersionStatus
from registry.mlflow.filters import RUN_ID_TAG, RUN_LINK_TAG, SOURCE_ARTIFACT
from registry.mlflow.names import mlflow_name
from registry.models import Alias, Artifact, ModelTag, ModelVersion

STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED = (
    "None", "Staging", "Production", "Archived")
STAGES = (STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED)
HIDDEN_TAGS = {RUN_ID_TAG, RUN_LINK_TAG}


def millis(moment):
    return int(moment.timestamp() * 1000) if moment else None


def stage_of(version):
    return STAGE_ARCHIVED if version.status == VersionStatus.DEPRECATED else STAGE_NONE


def model_name_of(catalog_model):
    return mlflow_name(catalog_model.namespace.path, catalog_model.model_name)


def versions_queryset():
    """Versions with what their document shows, in a fixed number of queries."""
    return ModelVersion.objects.select_related("catalog_model__namespace").prefetch_related(
        "tags",
        Prefetch("artifacts", queryset=Artifact.objects.filter(name=SOURCE_ARTIFACT),
                 to_attr="source_artifacts"),
        Prefetch("aliases", queryset=Alias.objects.only("id", "name", "version_id"),
                 to_attr="alias_rows"),
    )


def models_queryset():
    """Catalog models with what their document shows, in a fixed number of queries."""
    return CatalogModel.objects.select_related("namespace").prefetch_related(
        Prefetch("model_tags", queryset=ModelTag.objects.order_by("key")),
        Prefetch("aliases", queryset=Alias.objects.select_related("version").order_by("name"),
                 to_attr="alias_rows"),
    )


def version_document(version):
    tags = {tag.key: tag.value for tag in version.tags.all()}
    sources = getattr(version, "source_artifacts", None)
    if sources is None:
        sources = list(version.artifacts.filter(name=SOURCE_ARTIFACT))
    aliases = getattr(version, "alias_rows", None)
    if aliases is None:
        aliases = list(version.aliases.all())
    document = {
        "name": model_name_of(version.catalog_model),
        "version": str(version.model_version),
        "creation_timestamp": millis(version.create_at),
        "last_updated_timestamp": millis(version.update_at),
        "user_id": version.created_by,
        "current_stage": stage_of(version),
        "description": version.description,
        "source": sources[0].uri if sources else "",
        "run_id": tags.get(RUN_ID_TAG, ""),
        "run_link": tags.get(RUN_LINK_TAG, ""),
        "status": "READY",
        "tags": [{"key": key, "value": value} for key, value in sorted(tags.items())
                 if key not in HIDDEN_TAGS],
        "aliases": sorted(alias.name for alias in aliases),
    }
    return document


def latest_versions(catalog_models, stages=None):
    """{catalog model id: [the latest version of each stage]} for `catalog_models`, in a fixed
    number of queries: the versions whose number is the highest of their model and status."""
    ids = [model.pk for model in catalog_models]
    if not ids:
        return {}
    highest = ModelVersion.objects.filter(
        catalog_model=OuterRef("catalog_model"), status=OuterRef("status"),
    ).order_by("-model_version").values("model_version")[:1]
    rows = versions_queryset().filter(catalog_model_id__in=ids,
                                      model_version=Subquery(highest))
    statuses = [status for status in VersionStatus.values
                if stages is None or stage_of(ModelVersion(status=status)) in stages]
    if not statuses:
        return {}
    found = {}
    for version in rows.filter(status__in=statuses).order_by("model_version"):
        found.setdefault(version.catalog_model_id, []).append(version)
    return found


def model_document(catalog_model, latest=()):
    aliases = getattr(catalog_model, "alias_rows", None)
    if aliases is None:
        aliases = list(catalog_model.aliases.select_related("version"))
    return {
        "name": model_name_of(catalog_model),
        "creation_timestamp": millis(catalog_model.create_at),
        "last_updated_timestamp": millis(catalog_model.update_at),
        "user_id": catalog_model.owner,
        "description": catalog_model.description,
        "latest_versions": [version_document(version) for version in latest],
        "tags": [{"key": tag.key, "value": tag.value} for tag in catalog_model.model_tags.all()],
        "aliases": [{"alias": alias.name, "version": str(alias.version.model_version)}
                    for alias in aliases],
    }
