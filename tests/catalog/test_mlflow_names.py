"""Each catalog model stores its MLflow name (registry.mlflow.names), indexed for MLflow's
searches, and keeps it in step with its namespace and name however the row is written."""

import importlib
from types import SimpleNamespace

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from catalog.models import CatalogModel, Namespace
from catalog.services import ensure_namespace, save_catalog_model

pytestmark = pytest.mark.django_db


def stored_names():
    return dict(CatalogModel.objects.values_list("model_name", "mlflow_name"))


def test_a_saved_model_stores_its_mlflow_name():
    save_catalog_model(namespace="/abc_corp/claim", model_name="doc_classification")
    save_catalog_model(namespace="/mlflow", model_name="churn")

    assert stored_names() == {"doc_classification": "abc_corp.claim.doc_classification",
                              "churn": "churn"}


def test_a_renamed_or_moved_model_stores_its_new_name():
    model = save_catalog_model(namespace="/abc_corp/claim", model_name="doc")
    save_catalog_model(instance=model, namespace="/mlflow", model_name="doc_v2")

    assert stored_names() == {"doc_v2": "doc_v2"}
    model.model_name = "doc_v3"
    model.save(update_fields=["model_name"])
    assert stored_names() == {"doc_v3": "doc_v3"}


def test_bulk_writes_store_the_name_too():
    space = ensure_namespace("/abc_corp/claim")
    first, second = CatalogModel.objects.bulk_create(
        [CatalogModel(namespace=space, model_name=name) for name in ("a", "b")])
    assert stored_names() == {"a": "abc_corp.claim.a", "b": "abc_corp.claim.b"}

    CatalogModel.objects.filter(pk=first.pk).update(model_name="a2")
    second.namespace = ensure_namespace("/mlflow")
    CatalogModel.objects.bulk_update([second], ["namespace"])
    assert stored_names() == {"a2": "abc_corp.claim.a2", "b": "b"}
    CatalogModel.objects.update(namespace=ensure_namespace("/other"))
    assert stored_names() == {"a2": "other.a2", "b": "other.b"}


def test_a_namespace_whose_path_changes_renames_its_models():
    # The API and the admin keep a path as it was set; the models still follow a change.
    save_catalog_model(namespace="/abc_corp/claim", model_name="doc")
    space = Namespace.objects.get(path="/abc_corp/claim")
    space.path = "/abc_corp/claims"
    space.save()
    assert stored_names() == {"doc": "abc_corp.claims.doc"}

    Namespace.objects.filter(pk=space.pk).update(path="/mlflow")
    assert stored_names() == {"doc": "doc"}


def test_migrate_renames_the_models_when_the_default_namespace_changes(settings):
    save_catalog_model(namespace="/mlflow", model_name="churn")
    save_catalog_model(namespace="/shared/mlflow", model_name="fraud")

    settings.MLPORTAL_MLFLOW_DEFAULT_NAMESPACE = "/shared/mlflow"
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert stored_names() == {"churn": "mlflow.churn", "fraud": "fraud"}


def test_the_migration_fills_the_names_of_existing_models():
    save_catalog_model(namespace="/abc_corp/claim", model_name="doc")
    save_catalog_model(namespace="/mlflow", model_name="churn")
    CatalogModel.objects.update(mlflow_name="")  # as the column is when the migration adds it
    migration = importlib.import_module("catalog.migrations.0008_mlflow_name")
    state = MigrationExecutor(connection).loader.project_state(("catalog", "0008_mlflow_name"))

    migration.fill(state.apps, SimpleNamespace(connection=connection))

    assert stored_names() == {"doc": "abc_corp.claim.doc", "churn": "churn"}


def test_the_mlflow_order_reads_the_name_index_without_sorting():
    save_catalog_model(namespace="/abc_corp/claim", model_name="doc")
    rows = CatalogModel.objects.order_by("mlflow_name", "id").values("id")[100:200]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = rows.explain()

    assert "catalog_model_mlflow_name" in plan
    assert "Sort" not in plan and "TEMP B-TREE" not in plan
