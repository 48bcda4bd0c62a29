"""The recorded changes of deployments and their environment variables get their catalog
model as related object (their history is then one indexed filter,
ObjectChange.objects.history_of)."""

from django.db import migrations

from mlportal.audit import backfill_parents


def backfill(apps, schema_editor):
    backfill_parents(apps, "catalog.CatalogModel", {
        "deployments.Deployment": "catalog_model_id",
        "deployments.EnvironmentVariable": "deployment__catalog_model_id",
    })


class Migration(migrations.Migration):

    dependencies = [
        ("deployments", "0002_endpoints_belong_to_a_namespace"),
        ("mlportal", "0006_objectchange_related_object"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
