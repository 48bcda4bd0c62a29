"""Indexes for the search pages (moved from mlportal's 0002 and 0003: each app owns its
indexes).

Full-text (PostgreSQL only; see mlportal.fulltext): GIN indexes on exactly the document
mlportal.fulltext builds for those fields; the search kinds in mlportal.pages.search name
the same fields, and a test checks that every kind's query uses its index."""

from django.db import migrations

from mlportal.fulltext import gin_index
from mlportal.indexes import vendor_indexes


def indexes(vendor):
    if vendor == "postgresql":
        yield "catalogmodel", gin_index("catalog_model_search", "model_name", "description",
                                        "owner")
        yield "catalogmodel", gin_index("catalog_model_name_search", "model_name")
        yield "datasource", gin_index("data_source_search", "name", "type", "description",
                                      "owner")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_audit_parents"),
    ]

    # Databases migrated before the indexes moved here have them from mlportal's 0002/0003.
    operations = [vendor_indexes("catalog", indexes)]
