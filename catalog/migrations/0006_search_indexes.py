"""Indexes for the search pages (moved from mlportal's 0002 and 0003: each app owns its
indexes).

Full-text (PostgreSQL only; see mlportal.fulltext): GIN indexes on exactly the document
mlportal.fulltext builds for those fields; the search kinds in mlportal.pages.search name
the same fields, and a test checks that every kind's query uses its index."""

from django.db import migrations

from mlportal.fulltext import gin_index


def indexes(vendor):
    if vendor == "postgresql":
        yield "catalogmodel", gin_index("catalog_model_search", "model_name", "description",
                                        "owner")
        yield "catalogmodel", gin_index("catalog_model_name_search", "model_name")
        yield "datasource", gin_index("data_source_search", "name", "type", "description",
                                      "owner")


def _exists(schema_editor, model, name):
    with schema_editor.connection.cursor() as cursor:
        return name in schema_editor.connection.introspection.get_constraints(
            cursor, model._meta.db_table)


def create_indexes(apps, schema_editor):
    for model_name, index in indexes(schema_editor.connection.vendor):
        model = apps.get_model("catalog", model_name)
        # Databases migrated before the indexes moved here have them from mlportal's 0002/0003.
        if not _exists(schema_editor, model, index.name):
            schema_editor.add_index(model, index)


def drop_indexes(apps, schema_editor):
    for model_name, index in indexes(schema_editor.connection.vendor):
        model = apps.get_model("catalog", model_name)
        if _exists(schema_editor, model, index.name):
            schema_editor.remove_index(model, index)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_audit_parents"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
