"""Indexes for the search pages.

Full-text (PostgreSQL only; see mlportal.fulltext): GIN indexes on exactly the document
mlportal.fulltext builds for those fields; the search kinds in mlportal.pages.search name the
same fields, and a test checks that every kind's query uses its index. Newest first (every
database): the search lists versions by creation time.
"""

from django.db import migrations, models

from mlportal.fulltext import gin_index

FULL_TEXT = [
    ("catalog", "catalogmodel", "catalog_model_search", ["model_name", "description", "owner"]),
    ("catalog", "catalogmodel", "catalog_model_name_search", ["model_name"]),
    ("catalog", "datasource", "data_source_search", ["name", "type", "description", "owner"]),
    ("registry", "modelversion", "model_version_search", ["description", "created_by"]),
]
ORDERING = [
    ("registry", "modelversion", "model_version_newest", ["create_at", "id"]),
]


def indexes(vendor):
    if vendor == "postgresql":
        for app_label, model_name, name, fields in FULL_TEXT:
            yield app_label, model_name, gin_index(name, *fields)
    for app_label, model_name, name, fields in ORDERING:
        yield app_label, model_name, models.Index(fields=fields, name=name)


def create_indexes(apps, schema_editor):
    for app_label, model_name, index in indexes(schema_editor.connection.vendor):
        schema_editor.add_index(apps.get_model(app_label, model_name), index)


def drop_indexes(apps, schema_editor):
    for app_label, model_name, index in indexes(schema_editor.connection.vendor):
        schema_editor.remove_index(apps.get_model(app_label, model_name), index)


class Migration(migrations.Migration):
    dependencies = [
        ("mlportal", "0001_initial"),
        ("catalog", "0001_initial"),
        ("registry", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
