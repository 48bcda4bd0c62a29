"""The recorded changes of versions, artifacts, aliases, tags and model tags get their
catalog model as related object (their history is then one indexed filter,
ObjectChange.objects.history_of)."""

from django.db import migrations

from mlportal.audit import backfill_parents


def backfill(apps, schema_editor):
    backfill_parents(apps, "catalog.CatalogModel", {
        "registry.ModelVersion": "catalog_model_id",
        "registry.Artifact": "version__catalog_model_id",
        "registry.Alias": "catalog_model_id",
        "registry.Tag": "version__catalog_model_id",
        "registry.ModelTag": "catalog_model_id",
    })


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0004_mlflow_model_tags"),
        ("mlportal", "0006_objectchange_related_object"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
