"""The recorded changes of catalog models (their own) get their catalog model as related
object (their history is then one indexed filter, ObjectChange.objects.history_of)."""

from django.db import migrations

from mlportal.audit import backfill_parents


def backfill(apps, schema_editor):
    backfill_parents(apps, "catalog.CatalogModel", {
        "catalog.CatalogModel": "pk",
    })


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0004_catalog_syncs"),
        ("mlportal", "0006_objectchange_related_object"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
