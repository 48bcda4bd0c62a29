"""Indexes for the search pages (moved from mlportal's 0002 and 0003: each app owns its
indexes).

Full-text (PostgreSQL only; see mlportal.fulltext): GIN indexes on exactly the document
mlportal.fulltext builds for those fields; the search kinds in mlportal.pages.search name
the same fields, and a test checks that every kind's query uses its index. Newest first
(every database): the search lists versions by creation time."""

from django.db import migrations, models

from mlportal.fulltext import gin_index
from mlportal.indexes import vendor_indexes


def indexes(vendor):
    if vendor == "postgresql":
        yield "modelversion", gin_index("model_version_search", "description", "created_by")
    yield "modelversion", models.Index(fields=["create_at", "id"], name="model_version_newest")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_audit_parents"),
    ]

    # Databases migrated before the indexes moved here have them from mlportal's 0002/0003.
    operations = [vendor_indexes("registry", indexes)]
