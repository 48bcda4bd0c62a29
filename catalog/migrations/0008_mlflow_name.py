"""The MLflow name of each catalog model, stored and indexed, so that MLflow's searches
(registry.mlflow) order by name and filter on it through indexes instead of computing every
model's name: a btree on (mlflow_name, id) for the default order and its pages, and on
PostgreSQL a trigram index for LIKE and ILIKE patterns of any shape (pg_trgm, a trusted
extension that the database's owner may create; without it those filters scan)."""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations, models, transaction

import catalog.models
from mlportal.indexes import vendor_indexes


def fill(apps, schema_editor):
    model = apps.get_model("catalog", "CatalogModel")
    catalog.models.refresh_mlflow_names(
        model._base_manager.using(schema_editor.connection.alias))


def indexes(vendor):
    if vendor == "postgresql":
        yield "catalogmodel", GinIndex(fields=["mlflow_name"], opclasses=["gin_trgm_ops"],
                                       name="catalog_model_mlflow_name_trigrams")


def _trigrams_available(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT installed_version FROM pg_available_extensions "
                       "WHERE name = 'pg_trgm'")
        row = cursor.fetchone()
        if row is None:
            return False
        if row[0] is None:
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception as exc:  # no privilege: the filters work, by a scan
                print(f"\n  pg_trgm could not be created ({exc}); MLflow name filters with "
                      "LIKE and ILIKE will scan the catalog.")
                return False
    return True


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0007_push_deliveries'),
    ]

    operations = [
        migrations.AddField(
            model_name='catalogmodel',
            name='mlflow_name',
            field=catalog.models.MlflowNameField(default='', editable=False, help_text="The name MLflow's client knows the model by (registry.mlflow.names).", max_length=455, verbose_name='MLflow name'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='catalogmodel',
            index=models.Index(fields=['mlflow_name', 'id'], name='catalog_model_mlflow_name'),
        ),
        vendor_indexes("catalog", indexes, available=_trigrams_available),
    ]
