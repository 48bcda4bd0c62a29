"""Indexes for the search pages (moved from mlportal's 0002 and 0003: each app owns its
indexes).

Full-text (PostgreSQL only; see mlportal.fulltext): GIN indexes on exactly the document
mlportal.fulltext builds for those fields; the search kinds in mlportal.pages.search name
the same fields, and a test checks that every kind's query uses its index. Newest first
(every database): the search lists versions by creation time."""

from django.db import migrations, models

from mlportal.fulltext import gin_index


def indexes(vendor):
    if vendor == "postgresql":
        yield "modelversion", gin_index("model_version_search", "description", "created_by")
    yield "modelversion", models.Index(fields=["create_at", "id"], name="model_version_newest")


def _exists(schema_editor, model, name):
    with schema_editor.connection.cursor() as cursor:
        return name in schema_editor.connection.introspection.get_constraints(
            cursor, model._meta.db_table)


def create_indexes(apps, schema_editor):
    for model_name, index in indexes(schema_editor.connection.vendor):
        model = apps.get_model("registry", model_name)
        # Databases migrated before the indexes moved here have them from mlportal's 0002/0003.
        if not _exists(schema_editor, model, index.name):
            schema_editor.add_index(model, index)


def drop_indexes(apps, schema_editor):
    for model_name, index in indexes(schema_editor.connection.vendor):
        model = apps.get_model("registry", model_name)
        if _exists(schema_editor, model, index.name):
            schema_editor.remove_index(model, index)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_audit_parents"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
