"""Indexes that migrations create on some databases only (PostgreSQL's GIN indexes), and
only where missing: databases migrated before an index moved between apps already have it.
"""

from django.db import migrations


def _exists(schema_editor, model, name):
    with schema_editor.connection.cursor() as cursor:
        return name in schema_editor.connection.introspection.get_constraints(
            cursor, model._meta.db_table)


def vendor_indexes(app_label, indexes, *, available=None):
    """A RunPython operation adding the indexes that `indexes(vendor)` yields, as (model
    name, index) pairs, where they are missing, and removing those present when reversed.
    `available(connection)`, when given, may decline to add them (an extension that cannot
    be created)."""

    def create(apps, schema_editor):
        for model_name, index in indexes(schema_editor.connection.vendor):
            model = apps.get_model(app_label, model_name)
            if not _exists(schema_editor, model, index.name) and (
                    available is None or available(schema_editor.connection)):
                schema_editor.add_index(model, index)

    def drop(apps, schema_editor):
        for model_name, index in indexes(schema_editor.connection.vendor):
            model = apps.get_model(app_label, model_name)
            if _exists(schema_editor, model, index.name):
                schema_editor.remove_index(model, index)

    return migrations.RunPython(create, drop)
