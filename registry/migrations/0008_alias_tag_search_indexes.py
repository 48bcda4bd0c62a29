"""Full-text indexes for the search's aliases and tags (PostgreSQL only; see
mlportal.fulltext): a version is found by its aliases' names and its tags' keys and values,
which a substring match read by scanning the whole table (a million tags at the scale
issue 10 asks for)."""

from django.db import migrations

from mlportal.fulltext import gin_index
from mlportal.indexes import vendor_indexes


def indexes(vendor):
    if vendor == "postgresql":
        yield "alias", gin_index("alias_search", "name")
        yield "tag", gin_index("tag_search", "key", "value")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0007_version_counter"),
    ]

    operations = [vendor_indexes("registry", indexes)]
