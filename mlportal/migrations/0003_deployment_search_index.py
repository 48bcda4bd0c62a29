"""Full-text index for deployments on the search page (PostgreSQL only; see 0002)."""

from django.db import migrations

from mlportal.fulltext import gin_index

FULL_TEXT = [
    ("deployments", "deployment", "deployment_search", ["endpoint", "environment"]),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for app_label, model_name, name, fields in FULL_TEXT:
        schema_editor.add_index(apps.get_model(app_label, model_name), gin_index(name, *fields))


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for app_label, model_name, name, fields in FULL_TEXT:
        schema_editor.remove_index(apps.get_model(app_label, model_name),
                                   gin_index(name, *fields))


class Migration(migrations.Migration):
    dependencies = [
        ("mlportal", "0002_search_indexes"),
        ("deployments", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
