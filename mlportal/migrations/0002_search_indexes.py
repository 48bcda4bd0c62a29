"""GIN indexes for the search pages' full-text search (PostgreSQL only; see mlportal.fulltext).

Each index is on exactly the document mlportal.fulltext builds for those fields: the
search kinds in mlportal.search name the same fields, and a test checks that every kind's
query uses its index.
"""

from django.db import migrations

from mlportal.fulltext import gin_index

INDEXES = [
    ("catalog", "catalogmodel", "catalog_model_search", ["model_name", "description", "owner"]),
    ("catalog", "datasource", "data_source_search", ["name", "type", "description", "owner"]),
    ("registry", "modelversion", "model_version_search", ["description", "created_by"]),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for app_label, model_name, name, fields in INDEXES:
        schema_editor.add_index(apps.get_model(app_label, model_name), gin_index(name, *fields))


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for app_label, model_name, name, fields in INDEXES:
        schema_editor.remove_index(apps.get_model(app_label, model_name),
                                   gin_index(name, *fields))


class Migration(migrations.Migration):
    dependencies = [
        ("mlportal", "0001_initial"),
        ("catalog", "0001_initial"),
        ("registry", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
