"""Full-text search on PostgreSQL uses the GIN indexes the migrations create."""

import pytest
from django.db import connection

from catalog.models import CatalogModel, DataSource
from deployments.models import Deployment
from mlportal import fulltext
from mlportal.pages import search
from registry.models import Alias, ModelVersion, Tag


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="GIN indexes exist on PostgreSQL only")
@pytest.mark.parametrize(("model", "fields", "index"), [
    (CatalogModel, search.MODEL_TEXT, "catalog_model_search"),
    (CatalogModel, search.MODEL_NAME_TEXT, "catalog_model_name_search"),
    (DataSource, search.DATA_SOURCE_TEXT, "data_source_search"),
    (ModelVersion, search.VERSION_TEXT, "model_version_search"),
    (Deployment, search.DEPLOYMENT_TEXT, "deployment_search"),
    (Alias, search.ALIAS_TEXT, "alias_search"),
    (Tag, search.TAG_TEXT, "tag_search"),
])
def test_each_kind_searches_through_its_index(model, fields, index):
    queryset = fulltext.matches(model.objects.all(), "doc classif", fields)
    with connection.cursor() as cursor:
        # Tables this small would be scanned whole; a bitmap scan is what a GIN index gives.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = queryset.explain()

    assert f"Bitmap Index Scan on {index}" in plan


def test_words_split_at_any_non_alphanumeric_character():
    assert fulltext.words("doc_classification, alice@example.com!") == [
        "doc", "classification", "alice", "example", "com"]


INDEX_MIGRATIONS = [("catalog", "0006_search_indexes"), ("registry", "0006_search_indexes"),
                    ("deployments", "0004_search_index"), ("catalog", "0008_mlflow_name"),
                    ("registry", "0008_alias_tag_search_indexes")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("app_label", "migration"), INDEX_MIGRATIONS)
def test_an_apps_search_indexes_are_created_once_whoever_created_them_first(app_label,
                                                                             migration):
    """Databases migrated before the indexes moved to their apps have them from mlportal's
    migrations: the app's migration leaves them, and builds them where they are missing."""
    import importlib

    from django.apps import apps
    from django.db import migrations

    module = importlib.import_module(f"{app_label}.migrations.{migration}")
    names = {index.name for _, index in module.indexes(connection.vendor)}
    [operation] = [operation for operation in module.Migration.operations
                   if isinstance(operation, migrations.RunPython)
                   and operation.code.__module__ == "mlportal.indexes"]

    def present():
        with connection.cursor() as cursor:
            return {name for model in apps.get_app_config(app_label).get_models()
                    for name in connection.introspection.get_constraints(
                        cursor, model._meta.db_table)} & names

    assert present() == names
    with connection.schema_editor() as editor:
        operation.code(apps, editor)
    assert present() == names
    with connection.schema_editor() as editor:
        operation.reverse_code(apps, editor)
    assert present() == set()
    with connection.schema_editor() as editor:
        operation.code(apps, editor)
    assert present() == names
