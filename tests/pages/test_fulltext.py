"""Full-text search on PostgreSQL uses the GIN indexes the migrations create."""

import pytest
from django.db import connection

from catalog.models import CatalogModel, DataSource
from deployments.models import Deployment
from mlportal import fulltext
from mlportal.pages import search
from registry.models import ModelVersion


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="GIN indexes exist on PostgreSQL only")
@pytest.mark.parametrize(("model", "fields", "index"), [
    (CatalogModel, search.MODEL_TEXT, "catalog_model_search"),
    (CatalogModel, search.MODEL_NAME_TEXT, "catalog_model_name_search"),
    (DataSource, search.DATA_SOURCE_TEXT, "data_source_search"),
    (ModelVersion, search.VERSION_TEXT, "model_version_search"),
    (Deployment, search.DEPLOYMENT_TEXT, "deployment_search"),
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
