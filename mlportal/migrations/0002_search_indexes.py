"""Indexes for the search pages: moved to the apps that own the tables.

Kept, without operations, so that the databases that applied it and those that did not
agree; catalog's 0006_search_indexes and registry's 0006_search_indexes create the indexes
it used to create, unless they exist.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mlportal", "0001_initial"),
    ]

    operations = []
